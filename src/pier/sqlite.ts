/**
 * The pier's log in its embedded SQLite database (SPEC §3, ./db.ts), as a
 * `PierLog`, with the record of the running serf process (a `Leftover`) in
 * the same database's meta table.
 *
 * Every operation is synchronous underneath; `appendNow` gives the pier's
 * hot path the group commit without a fiber.
 */
import { Effect, type Scope } from "effect"
import { PierDb, PierDbError } from "./db.ts"
import { PierIo, PierLocked, PierMismatch } from "./errors.ts"
import type { Leftover } from "./leftover.ts"
import { type LoggedEvent, type PierLog } from "./log.ts"

export interface SqliteStorage {
  readonly log: PierLog<never>
  readonly leftover: Leftover
}

const reasonOf = (e: unknown) => e instanceof Error ? e.message : String(e)

/** Opens (creating if needed) the pier database in `dir` for the scope's lifetime. */
export const openSqlite = (dir: string): Effect.Effect<SqliteStorage, PierLocked | PierMismatch | PierIo, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.try({
        try: () => PierDb.open(dir),
        catch: (e) => {
          if (!(e instanceof PierDbError)) return new PierIo({ dir, reason: String(e) })
          if (e.code === "locked") return new PierLocked({ dir, reason: e.message })
          if (e.code === "version") return new PierMismatch({ dir, reason: e.message })
          return new PierIo({ dir, reason: e.message })
        }
      }),
      (db) => Effect.sync(() => db.close())
    ),
    (db) => ({ log: sqliteLog(db, dir), leftover: sqliteLeftover(db, dir) })
  )

export const sqliteLog = (db: PierDb, dir: string): PierLog<never> => {
  const io = (e: unknown) => new PierIo({ dir, reason: reasonOf(e) })
  const appendNow = (events: ReadonlyArray<LoggedEvent>): PierIo | undefined => {
    try {
      db.append(events)
      return undefined
    } catch (e) {
      return io(e)
    }
  }
  return {
    last: Effect.sync(() => db.lastEve),
    append: (events) =>
      Effect.suspend(() => {
        const error = appendNow(events)
        return error === undefined ? Effect.void : Effect.fail(error)
      }),
    appendNow,
    read: (after, upTo, limit) => Effect.try({ try: () => db.read(after, upTo, limit), catch: io }),
    readRows: (after, upTo, limit) => Effect.try({ try: () => db.readRows(after, upTo, limit), catch: io }),
    mugOf: (eve) => Effect.try({ try: () => db.mugOf(eve), catch: io }),
    identity: Effect.try({ try: () => db.meta("identity"), catch: io }),
    setIdentity: (identity) => Effect.try({ try: () => db.setMeta("identity", identity), catch: io }),
    // PierDb.open has refused a file of another format already
    checkFormat: Effect.void,
    sizeOnDisk: Effect.sync(() => db.sizeOnDisk())
  }
}

/** The running serf's process, in the meta table (key `serf`). */
export const sqliteLeftover = (db: PierDb, dir: string): Leftover => {
  const io = (e: unknown) => new PierIo({ dir, reason: reasonOf(e) })
  return {
    get: Effect.try({ try: () => db.meta("serf"), catch: io }),
    set: (identity) => Effect.try({ try: () => db.setMeta("serf", identity), catch: io })
  }
}
