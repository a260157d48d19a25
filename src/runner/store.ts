/**
 * The runner's durable jobs (SPEC §7), in the program's state file (SQLite,
 * `node:sqlite`, WAL, `synchronous=NORMAL` — as the pier: a commit survives a
 * crash of liege, a power loss may take the last ones back).
 *
 *   jobs (id, session, payload, state, ok, error, created, updated)
 *   state: queued → running → done | failed
 *
 * Opening the store turns every `running` job back into `queued`: it was cut
 * off by a crash of liege and will run again (at-least-once execution). The
 * file is opened in exclusive locking mode: one liege per state file.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync, type StatementSync } from "node:sqlite"

export type JobState = "queued" | "running" | "done" | "failed"

export interface Job {
  readonly id: number
  readonly session: string
  readonly payload: unknown
  readonly state: JobState
  readonly ok?: unknown
  readonly error?: unknown
}

interface Row {
  readonly id: number
  readonly session: string
  readonly payload: string
  readonly state: JobState
  readonly ok: string | null
  readonly error: string | null
}

const toJob = (r: Row): Job => ({
  id: r.id,
  session: r.session,
  payload: JSON.parse(r.payload),
  state: r.state,
  ...(r.ok === null ? {} : { ok: JSON.parse(r.ok) }),
  ...(r.error === null ? {} : { error: JSON.parse(r.error) })
})

export class StoreError extends Error {}

export interface Summary {
  readonly byState: { readonly queued: number; readonly running: number; readonly done: number; readonly failed: number }
  readonly busiest: ReadonlyArray<{ readonly session: string; readonly queued: number; readonly running: number }>
}

export class JobStore {
  readonly file: string
  /** Jobs found running at open (cut off by a crash), now queued again. */
  readonly recovered: number
  private readonly db: DatabaseSync
  private readonly insert: StatementSync
  private readonly byId: StatementSync
  private readonly headOf: StatementSync
  private readonly queuedSessions: StatementSync
  private readonly setState: StatementSync
  private readonly finish: StatementSync
  private readonly byState: StatementSync
  private readonly busiest: StatementSync

  constructor(file: string) {
    this.file = file
    try {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
      this.db = new DatabaseSync(file)
      // one liege per state file: the first write takes the file for good
      this.db.exec("PRAGMA locking_mode = EXCLUSIVE")
      this.db.exec("PRAGMA journal_mode = WAL")
      this.db.exec("PRAGMA synchronous = NORMAL")
      this.db.exec(`CREATE TABLE IF NOT EXISTS jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        ok TEXT,
        error TEXT,
        created REAL NOT NULL,
        updated REAL NOT NULL
      );
      CREATE INDEX IF NOT EXISTS jobs_session_state ON jobs (session, state, id);
      CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, session);`)
      this.recovered = Number(
        this.db.prepare("UPDATE jobs SET state = 'queued', updated = ? WHERE state = 'running'").run(Date.now()).changes
      )
    } catch (e) {
      const message = (e as Error).message
      throw new StoreError(
        /locked|busy/i.test(message)
          ? `the state file ${file} is in use by another process (another liege?)`
          : `cannot open the state file ${file}: ${message}`
      )
    }
    this.insert = this.db.prepare(
      "INSERT INTO jobs (session, payload, state, created, updated) VALUES (?, ?, 'queued', ?, ?)"
    )
    this.byId = this.db.prepare("SELECT id, session, payload, state, ok, error FROM jobs WHERE id = ?")
    this.headOf = this.db.prepare(
      "SELECT id, session, payload, state, ok, error FROM jobs WHERE session = ? AND state = 'queued' ORDER BY id LIMIT 1"
    )
    this.queuedSessions = this.db.prepare("SELECT DISTINCT session FROM jobs WHERE state = 'queued'")
    this.setState = this.db.prepare("UPDATE jobs SET state = ?, updated = ? WHERE id = ? AND state = ?")
    this.finish = this.db.prepare("UPDATE jobs SET state = ?, ok = ?, error = ?, updated = ? WHERE id = ? AND state = 'running'")
    this.byState = this.db.prepare("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
    this.busiest = this.db.prepare(`SELECT session, SUM(state = 'queued') AS queued, SUM(state = 'running') AS running
      FROM jobs WHERE state IN ('queued', 'running') GROUP BY session ORDER BY queued DESC, running DESC, session LIMIT ?`)
  }

  /** Jobs by state, and the sessions with the most jobs waiting (for the status document). */
  summary(limit = 10): Summary {
    const byState = { queued: 0, running: 0, done: 0, failed: 0 }
    for (const row of this.byState.all() as Array<{ state: JobState; n: number }>) byState[row.state] = Number(row.n)
    const busiest = (this.busiest.all(limit) as Array<{ session: string; queued: number; running: number }>)
      .map((r) => ({ session: r.session, queued: Number(r.queued), running: Number(r.running) }))
    return { byState, busiest }
  }

  /** Stores a job; it is durable when this returns. */
  add(session: string, payload: string): number {
    const now = Date.now()
    return Number(this.insert.run(session, payload, now, now).lastInsertRowid)
  }

  get(id: number): Job | undefined {
    const row = this.byId.get(id) as Row | undefined
    return row === undefined ? undefined : toJob(row)
  }

  /** The oldest queued job of `session`. */
  head(session: string): Job | undefined {
    const row = this.headOf.get(session) as Row | undefined
    return row === undefined ? undefined : toJob(row)
  }

  sessionsWithWork(): Array<string> {
    return (this.queuedSessions.all() as Array<{ session: string }>).map((r) => r.session)
  }

  /** queued → running; false if the job was not queued. */
  start(id: number): boolean {
    return Number(this.setState.run("running", Date.now(), id, "queued").changes) === 1
  }

  /** running → queued: cut off, it runs again (before the rest of its session). */
  requeue(id: number): void {
    this.setState.run("queued", Date.now(), id, "running")
  }

  /** running → done | failed, exactly once. */
  settle(id: number, outcome: { readonly ok: unknown } | { readonly error: unknown }): boolean {
    const done = "ok" in outcome
    return Number(
      this.finish.run(
        done ? "done" : "failed",
        done ? JSON.stringify(outcome.ok ?? null) : null,
        done ? null : JSON.stringify(outcome.error),
        Date.now(),
        id
      ).changes
    ) === 1
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}
