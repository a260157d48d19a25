/**
 * The pier's database (SPEC §3): one SQLite file, `pier.db`, in the pier
 * folder, through Node's built-in `node:sqlite`.
 *
 * - `events (eve, wen, mug, ev)`: the log. `ev` is the event as JSON text;
 *   `mug` is the serf's mug after the event, or NULL when it was not
 *   reported (the inner events of a boot `play`).
 * - `meta (key, value)`: the pier format version, the serf identity
 *   (`pro`, `hon`, `nok`) and the running serf's process group.
 *
 * Durability: WAL journal with `synchronous=NORMAL`. A committed transaction
 * has been written to the WAL file by `write(2)` before the commit returns,
 * so it survives the crash of liege or of the serf (kill -9 included): the
 * operating system holds the bytes. A power loss or kernel crash can lose the
 * last transactions committed before it (they were not yet `fsync`ed), but
 * never corrupts the log: it comes back consistent, at an earlier event.
 *
 * `locking_mode=EXCLUSIVE` makes the first writer keep the file: a second
 * liege on the same pier is refused (`PierLocked`) instead of corrupting it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync, type StatementSync } from "node:sqlite"
import { formatProblem, type LoggedEvent, type LoggedRow, PIER_VERSION } from "./log.ts"

export { type LoggedEvent, type LoggedRow, PIER_VERSION }
const WIDE = 32

/** One row of `events` as `range` returns it: an array, in column order. */
const isRow = (r: unknown): r is LoggedRow =>
  Array.isArray(r) && typeof r[0] === "number" && typeof r[1] === "number" &&
  (r[2] === null || typeof r[2] === "number") && typeof r[3] === "string"

export class PierDbError extends Error {
  readonly code: "locked" | "version" | "io"
  constructor(code: "locked" | "version" | "io", message: string) {
    super(message)
    this.code = code
  }
}

export class PierDb {
  readonly file: string
  private readonly db: DatabaseSync
  private readonly insert: StatementSync
  /** INSERT of exactly `WIDE` rows at once: a group commit runs few statements. */
  private readonly insertWide: StatementSync
  private readonly begin: StatementSync
  private readonly commit: StatementSync
  private readonly rollback: StatementSync
  private readonly range: StatementSync
  private readonly getMeta: StatementSync
  private readonly putMeta: StatementSync
  private readonly deleteMeta: StatementSync
  private readonly mugAt: StatementSync
  private last: number

  private constructor(file: string, db: DatabaseSync) {
    this.file = file
    this.db = db
    this.insert = db.prepare("INSERT INTO events (eve, wen, mug, ev) VALUES (?, ?, ?, ?)")
    this.insertWide = db.prepare(`INSERT INTO events (eve, wen, mug, ev) VALUES ${Array(WIDE).fill("(?, ?, ?, ?)").join(", ")}`)
    this.begin = db.prepare("BEGIN IMMEDIATE")
    this.commit = db.prepare("COMMIT")
    this.rollback = db.prepare("ROLLBACK")
    this.range = db.prepare("SELECT eve, wen, mug, ev FROM events WHERE eve > ? AND eve <= ? ORDER BY eve LIMIT ?")
    this.range.setReturnArrays(true)
    this.getMeta = db.prepare("SELECT value FROM meta WHERE key = ?")
    this.putMeta = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
    this.deleteMeta = db.prepare("DELETE FROM meta WHERE key = ?")
    this.mugAt = db.prepare("SELECT mug FROM events WHERE eve = ?")
    const row = db.prepare("SELECT MAX(eve) AS eve FROM events").get() as { eve: number | null }
    this.last = row.eve ?? 0
  }

  /** Opens (creating if needed) the pier in `dir`. Throws `PierDbError`. */
  static open(dir: string): PierDb {
    const file = path.join(dir, "pier.db")
    let db: DatabaseSync
    try {
      fs.mkdirSync(dir, { recursive: true })
      db = new DatabaseSync(file)
    } catch (e) {
      throw new PierDbError("io", `cannot open ${file}: ${(e as Error).message}`)
    }
    try {
      db.exec("PRAGMA locking_mode = EXCLUSIVE")
      db.exec("PRAGMA journal_mode = WAL")
      db.exec("PRAGMA synchronous = NORMAL")
      // The first write takes the exclusive lock, held until close.
      db.exec(`BEGIN IMMEDIATE;
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS events (eve INTEGER PRIMARY KEY, wen REAL NOT NULL, mug INTEGER, ev TEXT NOT NULL);
        INSERT INTO meta (key, value) VALUES ('version', '${PIER_VERSION}') ON CONFLICT(key) DO NOTHING;
        COMMIT;`)
    } catch (e) {
      db.close()
      const message = (e as Error).message
      if (/locked|busy/i.test(message)) {
        throw new PierDbError("locked", `${file} is in use by another process (another liege on this pier?)`)
      }
      throw new PierDbError("io", `cannot initialise ${file}: ${message}`)
    }
    const pier = new PierDb(file, db)
    const problem = formatProblem(file, pier.meta("version"))
    if (problem !== undefined) {
      pier.close()
      throw new PierDbError("version", problem)
    }
    return pier
  }

  /** The last logged event number (0 for an empty log). */
  get lastEve(): number {
    return this.last
  }

  /** Appends events in one transaction (the group commit). Throws on failure, having logged nothing. */
  append(events: ReadonlyArray<LoggedEvent>): void {
    if (events.length === 0) return
    this.begin.run()
    try {
      let i = 0
      if (events.length >= WIDE) {
        const params = new Array<number | string | null>(WIDE * 4)
        for (; i + WIDE <= events.length; i += WIDE) {
          for (let j = 0; j < WIDE; j++) {
            const e = events[i + j]!
            params[j * 4] = e.eve
            params[j * 4 + 1] = e.wen
            params[j * 4 + 2] = e.mug
            params[j * 4 + 3] = e.ev
          }
          this.insertWide.run(...params)
        }
      }
      for (; i < events.length; i++) {
        const e = events[i]!
        this.insert.run(e.eve, e.wen, e.mug, e.ev)
      }
      this.commit.run()
    } catch (e) {
      try {
        this.rollback.run()
      } catch {
        // the transaction is already gone
      }
      throw new PierDbError("io", `cannot append to ${this.file}: ${(e as Error).message}`)
    }
    this.last = events[events.length - 1]!.eve
  }

  /** Events in (after, upTo], at most `limit`, in order. Throws `PierDbError` on a row of the wrong shape. */
  read(after: number, upTo: number, limit: number): Array<LoggedEvent> {
    const rows = this.readRows(after, upTo, limit)
    const out = new Array<LoggedEvent>(rows.length)
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!
      out[i] = { eve: r[0], wen: r[1], mug: r[2], ev: r[3] }
    }
    return out
  }

  /** `read`, as the rows SQLite gives (`[eve, wen, mug, ev]`): no object made per event. */
  readRows(after: number, upTo: number, limit: number): ReadonlyArray<LoggedRow> {
    // rows come as arrays (`setReturnArrays`), which node:sqlite's types do not say: `isRow` checks them
    const rows: ReadonlyArray<unknown> = this.range.all(after, upTo, limit)
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]
      if (!isRow(r)) throw new PierDbError("io", `${this.file}: a log row is not (eve, wen, mug, ev): ${String(r)}`)
    }
    return rows as ReadonlyArray<LoggedRow>
  }

  /** The logged mug of event `eve` (null when not recorded or absent). */
  mugOf(eve: number): number | null {
    const row = this.mugAt.get(eve) as { mug: number | null } | undefined
    return row?.mug ?? null
  }

  meta(key: string): string | undefined {
    return (this.getMeta.get(key) as { value: string } | undefined)?.value
  }

  setMeta(key: string, value: string | undefined): void {
    if (value === undefined) this.deleteMeta.run(key)
    else this.putMeta.run(key, value)
  }

  /** The log's size on disk in bytes: the database and its write-ahead log. */
  sizeOnDisk(): number | null {
    let total = 0
    for (const file of [this.file, `${this.file}-wal`]) {
      try {
        total += fs.statSync(file).size
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") return null
      }
    }
    return total
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}
