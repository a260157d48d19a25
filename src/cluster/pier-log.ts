/**
 * A serf's PostgreSQL log (./event-log.ts) as the pier's log (SPEC §3, §9):
 * the same pier (../pier/pier.ts `openWith`) runs on it as on SQLite.
 *
 * - A write refused by the fence (`LogFenced`: another runner claimed the
 *   serf) is `PierFenced`, which ends the pier: it kills its serf, and
 *   every event it has not answered fails with that error.
 * - Anything else the log says (`LogIo`, `LogRefused`) is `PierIo`.
 * - The serf identity and the pier format are meta values of the serf
 *   (`identity`, `version`), written under the fence like events.
 * - The size on disk is not told (null): the log shares its tables with
 *   every other serf's.
 * - The record of the running serf process is not in PostgreSQL but in the
 *   serf's own folder (../pier/leftover.ts `fileLeftover`, the default of
 *   `openWith`): a process belongs to its machine.
 */
import { Effect, type Schema, type Scope } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import { type InvalidOptions } from "../errors.ts"
import { PierFenced, PierIo, PierMismatch } from "../pier/errors.ts"
import { formatProblem, PIER_VERSION, type PierLog } from "../pier/log.ts"
import { openWith, type Pier, type PierHooks, type PierOptions } from "../pier/pier.ts"
import type { LogFenced, LogIo, LogRefused } from "./errors.ts"
import { claim, type EventLog } from "./event-log.ts"

/** The pier's view of `log`; `dir` is the serf's folder (named in the pier's errors). */
export const pierLog = (log: EventLog, dir: string): PierLog => {
  const io = (e: LogIo | LogRefused) => new PierIo({ dir, reason: e.message })
  const write = (e: LogFenced | LogIo | LogRefused) => e._tag === "LogFenced" ? new PierFenced({ dir, reason: e.message }) : io(e)
  return {
    last: Effect.mapError(log.last, io),
    append: (events) => Effect.mapError(log.append(events), write),
    read: (after, upTo, limit) => Effect.mapError(log.read(after, upTo, limit), io),
    mugOf: (eve) => Effect.mapError(log.mugOf(eve), io),
    identity: Effect.mapError(log.meta("identity"), io),
    setIdentity: (identity) => Effect.mapError(log.setMeta("identity", identity), write),
    checkFormat: Effect.gen(function*() {
      const version = yield* Effect.mapError(log.meta("version"), io)
      if (version === undefined) return yield* Effect.mapError(log.setMeta("version", String(PIER_VERSION)), write)
      const problem = formatProblem(`the log of serf ${log.serf}`, version)
      if (problem !== undefined) return yield* new PierMismatch({ dir, reason: problem })
    }),
    sizeOnDisk: Effect.succeed(null)
  }
}

/**
 * Claims the log of serf `serf` (every earlier writer is fenced off) and
 * opens its pier on it, `options.dir` being the serf's folder.
 */
export const openPier = (
  serf: string,
  options: Schema.Codec.Encoded<typeof PierOptions> | PierOptions,
  hooks?: PierHooks
): Effect.Effect<Pier, InvalidOptions | PierMismatch | PierIo | PierFenced | LogRefused | LogIo, Scope.Scope | SqlClient> =>
  Effect.flatMap(claim(serf), (log) => openWith(pierLog(log, options.dir), options, hooks))
