/**
 * The record of the running serf process (SPEC §3, §9): its identity (pid
 * and start time, ../supervisor/group.ts `processIdentity`), kept while it
 * runs, so that a liege started after a killed one finds the serf it left
 * behind and reaps it before starting its own.
 *
 * It belongs to the machine, not to the log: a serf's log in PostgreSQL is
 * shared by the runners, its process is not. The SQLite pier keeps it in
 * its database's meta table (./sqlite.ts); any other keeps it in a file in
 * the serf's own folder (its `LIEGE_PIER`), `fileLeftover`.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { isAlive, liveMembers, processIdentity, signalGroup } from "../supervisor/group.ts"
import { PierIo } from "./errors.ts"

export interface Leftover {
  /** The recorded serf process, or undefined. */
  readonly get: Effect.Effect<string | undefined, PierIo>
  /** Records the serf process (undefined: none runs). */
  readonly set: (identity: string | undefined) => Effect.Effect<void, PierIo>
}

/** The file of `fileLeftover` in the serf's folder. */
export const LEFTOVER_FILE = ".liege-serf"

/** The record as a file in `dir`, written whole (a new file renamed over the old). */
export const fileLeftover = (dir: string): Leftover => {
  const file = path.join(dir, LEFTOVER_FILE)
  const io = (what: string) => (e: unknown) => new PierIo({ dir, reason: `cannot ${what} ${file}: ${(e as Error).message}` })
  return {
    get: Effect.try({
      try: () => {
        try {
          return fs.readFileSync(file, "utf8").trim() || undefined
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
          throw e
        }
      },
      catch: io("read")
    }),
    set: (identity) =>
      Effect.try({
        try: () => {
          if (identity === undefined) return fs.rmSync(file, { force: true })
          const next = `${file}.${process.pid}`
          fs.writeFileSync(next, `${identity}\n`)
          fs.renameSync(next, file)
        },
        catch: io("write")
      })
  }
}

/** Kills what a killed liege left running (identified by pid and start time) and clears the record. */
export const reap = (leftover: Leftover): Effect.Effect<void, PierIo> =>
  Effect.gen(function*() {
    const recorded = yield* leftover.get
    if (recorded === undefined) return
    const pid = Number(recorded.split(":")[0])
    if (processIdentity(pid) !== recorded) return yield* leftover.set(undefined)
    yield* Effect.logWarning(`reaping serf ${pid} left behind by an earlier liege`)
    signalGroup(pid, "SIGTERM")
    for (let i = 0; i < 50 && liveMembers(pid).length > 0; i++) yield* Effect.sleep(20)
    if (liveMembers(pid).length > 0) signalGroup(pid, "SIGKILL")
    for (let i = 0; i < 100 && isAlive(pid); i++) yield* Effect.sleep(20)
    yield* leftover.set(undefined)
  })
