/**
 * Catching a new serf up with the log (SPEC §3), before it serves: its
 * identity is checked against the pier's (recorded from the first serf),
 * its snapshot must not be ahead of the log and must match the log's mug;
 * then a fresh pier boots it with the boot events (logged like any other),
 * and a pier with a log replays every event after the serf's snapshot, in
 * `play` batches, each batch's last mug checked against the log.
 */
import { Effect, Option, Stream } from "effect"
import { ReplayDiverged, type SerfError } from "../serf/errors.ts"
import type { ReplayEvent, Serf } from "../serf/host.ts"
import { playEventsJson, ReplayBatch } from "../serf/replay.ts"
import type { Event, Ripe } from "../serf/protocol.ts"
import type { GroupCommit } from "./commit.ts"
import { PierBootFailed, PierIo, PierMismatch } from "./errors.ts"
import type { Lifecycle } from "./lifecycle.ts"
import type { LoggedEvent, LoggedRow, PierLog } from "./log.ts"
import type { PierFatal, ReplayStatus } from "./types.ts"

export interface CatchUp {
  readonly dir: string
  readonly log: PierLog
  readonly batchSize: number
  readonly boot: ReadonlyArray<Event> | undefined
  readonly commit: GroupCommit
  readonly lifecycle: Lifecycle
  /** Replay progress, once per batch (and once at the start and the end). */
  readonly onReplay?: ((status: ReplayStatus) => void) | undefined
}

/** The identity a serf reports in `ripe`, as the pier records it. */
export const identity = (ripe: Ripe) => JSON.stringify({ pro: ripe.pro, hon: ripe.hon, nok: ripe.nok })

/**
 * The logged events after `after` up to `upTo`, read in pages of `batchSize`,
 * each page one `ReplayBatch`: the events' JSON text as the log holds it,
 * never parsed, with the mug logged after the last (checked after the batch).
 */
export const logStream = (log: PierLog, after: number, upTo: number, batchSize: number): Stream.Stream<ReplayEvent, PierIo> => {
  const { readRows } = log
  const paged = (count: number, json: string, mug: number | null | undefined, last = upTo) =>
    [
      count === 0 ? [] : [new ReplayBatch(count, json, mug ?? undefined)],
      last >= upTo ? Option.none<number>() : Option.some(last)
    ] as const
  return Stream.paginate(after, (at) =>
    readRows !== undefined
      ? Effect.map(readRows(at, upTo, batchSize), (rows) => {
        const last = rows[rows.length - 1]
        return paged(rows.length, playEventsJson(rows, wenOfRow, evOfRow), last?.[2], last?.[0])
      })
      : Effect.map(log.read(at, upTo, batchSize), (events) => {
        const last = events[events.length - 1]
        return paged(events.length, playEventsJson(events, wenOfEvent, evOfEvent), last?.mug, last?.eve)
      }))
}

const wenOfRow = (r: LoggedRow) => r[1]
const evOfRow = (r: LoggedRow) => r[3]
const wenOfEvent = (e: LoggedEvent) => e.wen
const evOfEvent = (e: LoggedEvent) => e.ev

export const goofText = (r: { readonly goof: { readonly mote: string; readonly tang: ReadonlyArray<string> } }) =>
  `${r.goof.mote}: ${r.goof.tang.join(" | ")}`

export const catchUp = (serf: Serf, pier: CatchUp): Effect.Effect<void, PierFatal | SerfError> =>
  Effect.gen(function*() {
    const { ripe } = serf
    const { dir, log, commit, lifecycle } = pier
    const known = yield* log.identity
    if (known === undefined) yield* log.setIdentity(identity(ripe))
    else if (known !== identity(ripe)) {
      return yield* new PierMismatch({
        dir,
        reason: `the serf reports ${identity(ripe)}, but this pier was made by ${known}; refusing it`
      })
    }
    // read again: after a failed commit, only the log knows where it ends
    const last = yield* log.last
    commit.logged = last
    if (ripe.eve > last) {
      return yield* new PierMismatch({ dir, reason: `the serf's snapshot is at event ${ripe.eve}, ahead of the log (${last}); refusing it` })
    }
    if (ripe.eve > 0) {
      const mug = yield* log.mugOf(ripe.eve)
      if (mug !== null && mug !== ripe.mug) return yield* new ReplayDiverged({ eve: ripe.eve, logged: mug, serf: ripe.mug })
    }
    lifecycle.lastSnapshot = ripe.eve
    const boot = pier.boot ?? []
    if (last === 0 && boot.length > 0) {
      const r = yield* serf.boot(boot)
      if (r._tag === "Bail") return yield* new PierBootFailed({ eve: r.eve, reason: goofText(r) })
      yield* log.append(boot.map((e, i) => ({
        eve: i + 1,
        wen: e.wen,
        mug: i === boot.length - 1 ? r.mug : null,
        ev: JSON.stringify(e.ev) ?? "null"
      })))
      commit.booted(boot.length, r.mug)
      return
    }
    if (ripe.eve < last) {
      const replayed = (status: ReplayStatus) => {
        lifecycle.replay = status
        lifecycle.stage = { _tag: "Replaying", done: status.done, total: status.total }
        pier.onReplay?.(status)
      }
      const total = last - ripe.eve
      replayed({ done: 0, total, eve: ripe.eve })
      const r = yield* serf.replay(
        logStream(log, ripe.eve, last, pier.batchSize),
        (p) => replayed({ done: p.events, total, eve: p.eve })
      )
      if (r._tag === "Bail") return yield* new PierBootFailed({ eve: r.eve, reason: goofText(r) })
    }
  })
