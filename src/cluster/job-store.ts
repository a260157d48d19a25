/**
 * The session jobs in PostgreSQL (SPEC §7, §9): the cluster's twin of the
 * runner's SQLite store (`src/runner/store.ts`), with a fencing epoch per
 * session.
 *
 *   session_jobs   (id bigserial, session, payload, state, ok, error, created, updated)
 *   session_epochs (session PRIMARY KEY, epoch)
 *   state: queued → running → done | failed
 *
 * Anyone adds and reads jobs. Only a session's owner starts, requeues and
 * settles them: `claimSession(session)` bumps the session's epoch and
 * returns an owner holding it; each of the owner's changes is one statement
 * that takes the epoch row `FOR SHARE` and changes nothing unless the epoch
 * is still its own (`JobFenced`) — the same mechanism as the serf logs'
 * (see event-log.ts for why it is enough).
 *
 * The claim also turns the session's `running` job back into `queued` (its
 * owner was cut off; it runs again, before the rest of the session:
 * at-least-once), in the same transaction, after the epoch row is locked, so
 * no older owner can start or settle anything meanwhile.
 *
 * The table itself keeps a session to one job at a time, in order: `start`
 * takes only the session's oldest queued job, and a unique partial index
 * allows one `running` job per session. `settle` moves running → done |
 * failed once: every job has at most one recorded final state.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { JobFenced, JobIo, JobRefused, sqlReason } from "./errors.ts"
import { float8, inexactText } from "./exact.ts"
import { ensureSchema } from "./schema.ts"

// the same jobs as the single-machine runner's store, in PostgreSQL
export type { Job, JobState } from "../runner/store.ts"
import type { Job, JobState } from "../runner/store.ts"

export type Outcome = { readonly ok: unknown } | { readonly error: unknown }

export interface JobStore {
  /** Stores a job (`payload` is JSON text, kept as given); it is durable when this succeeds. */
  readonly add: (session: string, payload: string) => Effect.Effect<number, JobRefused | JobIo>
  readonly get: (id: number) => Effect.Effect<Job | undefined, JobRefused | JobIo>
  /** The oldest queued job of `session`. */
  readonly head: (session: string) => Effect.Effect<Job | undefined, JobRefused | JobIo>
  readonly sessionsWithWork: Effect.Effect<ReadonlyArray<string>, JobIo>
  /** Takes `session` over: every earlier owner is fenced off from here on. */
  readonly claimSession: (session: string) => Effect.Effect<SessionOwner, JobRefused | JobIo>
}

export interface SessionOwner {
  readonly session: string
  /** This owner's fencing token. */
  readonly epoch: number
  /** Jobs found running at the claim (their owner was cut off), now queued again. */
  readonly recovered: number
  /** queued → running; false unless `id` is the session's oldest queued job and none of it runs. */
  readonly start: (id: number) => Effect.Effect<boolean, JobFenced | JobRefused | JobIo>
  /** running → queued: cut off, it runs again (before the rest of its session). False if it was not running. */
  readonly requeue: (id: number) => Effect.Effect<boolean, JobFenced | JobRefused | JobIo>
  /** running → done | failed, exactly once: false if it was not running. */
  readonly settle: (id: number, outcome: Outcome) => Effect.Effect<boolean, JobFenced | JobRefused | JobIo>
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS session_epochs (
    session text PRIMARY KEY,
    epoch bigint NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS session_jobs (
    id bigserial PRIMARY KEY,
    session text NOT NULL,
    payload text NOT NULL,
    state text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    ok text,
    error text,
    created timestamptz NOT NULL DEFAULT now(),
    updated timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX IF NOT EXISTS session_jobs_queued ON session_jobs (session, id) WHERE state = 'queued'`,
  `CREATE UNIQUE INDEX IF NOT EXISTS session_jobs_running ON session_jobs (session) WHERE state = 'running'`
]

const COLUMNS = "id::float8, session, payload, state, ok, error"

const ADD = `INSERT INTO session_jobs (session, payload, state) VALUES ($1::text, $2::text, 'queued') RETURNING id::float8`
const GET = `SELECT ${COLUMNS} FROM session_jobs WHERE id = $1::int8`
const HEAD = `SELECT ${COLUMNS} FROM session_jobs WHERE session = $1::text AND state = 'queued' ORDER BY session_jobs.id LIMIT 1`
// queued, or running: its owner may be gone, and nobody else would wake it to claim it again
const WITH_WORK = `SELECT session FROM session_jobs WHERE state = 'queued' UNION SELECT session FROM session_jobs WHERE state = 'running'`

const CLAIM = `INSERT INTO session_epochs AS s (session, epoch) VALUES ($1::text, 1)
  ON CONFLICT (session) DO UPDATE SET epoch = s.epoch + 1
  RETURNING epoch::float8`
// a statement of its own in the claim's transaction: its snapshot is taken after the epoch row
// was locked, so it sees a job started by an older owner the claim waited for
const RECOVER = `UPDATE session_jobs SET state = 'queued', updated = now() WHERE session = $1::text AND state = 'running'`

const FENCE = `WITH fence AS (SELECT epoch FROM session_epochs WHERE session = $1::text FOR SHARE)`
const ANSWER = `SELECT (SELECT epoch FROM fence)::float8, (SELECT count(*) FROM changed)::float8`

// $1 session, $2 epoch, $3 id
const START = `${FENCE},
  changed AS (
    UPDATE session_jobs SET state = 'running', updated = now()
    WHERE id = $3::int8 AND session = $1::text AND state = 'queued' AND (SELECT epoch FROM fence) = $2::int8
      AND id = (SELECT min(id) FROM session_jobs WHERE session = $1::text AND state = 'queued')
      AND NOT EXISTS (SELECT 1 FROM session_jobs WHERE session = $1::text AND state = 'running')
    RETURNING 1)
  ${ANSWER}`

const REQUEUE = `${FENCE},
  changed AS (
    UPDATE session_jobs SET state = 'queued', updated = now()
    WHERE id = $3::int8 AND session = $1::text AND state = 'running' AND (SELECT epoch FROM fence) = $2::int8
    RETURNING 1)
  ${ANSWER}`

// $4 state, $5 ok, $6 error
const SETTLE = `${FENCE},
  changed AS (
    UPDATE session_jobs SET state = $4::text, ok = $5::text, error = $6::text, updated = now()
    WHERE id = $3::int8 AND session = $1::text AND state = 'running' AND (SELECT epoch FROM fence) = $2::int8
    RETURNING 1)
  ${ANSWER}`

const toJob = (r: ReadonlyArray<unknown>): Job => {
  const ok = r[4] as string | null
  const error = r[5] as string | null
  return {
    id: r[0] as number,
    session: r[1] as string,
    payload: JSON.parse(r[2] as string),
    state: r[3] as JobState,
    ...(ok === null ? {} : { ok: JSON.parse(ok) }),
    ...(error === null ? {} : { error: JSON.parse(error) })
  }
}

const io = (e: SqlError) => new JobIo({ reason: sqlReason(e) })
const refuse = (reason: string) => Effect.fail(new JobRefused({ reason }))

const badSession = (session: string): string | undefined => {
  if (typeof session !== "string" || session.length === 0) return "a session is a non-empty string"
  const inexact = inexactText(session)
  return inexact === undefined ? undefined : `session ${JSON.stringify(session)} cannot be stored exactly: ${inexact}`
}

const badId = (id: number): string | undefined =>
  Number.isSafeInteger(id) && id >= 1 ? undefined : `job ids are safe integers from 1 (got ${id})`

/** JSON text of a value, or why there is none. */
const jsonOf = (value: unknown): { readonly json: string } | { readonly bad: string } => {
  try {
    const json = JSON.stringify(value ?? null) as string | undefined
    if (json === undefined) return { bad: "it is not a JSON value" }
    const inexact = inexactText(json)
    return inexact === undefined ? { json } : { bad: inexact }
  } catch (e) {
    return { bad: (e as Error).message }
  }
}

/** The store (creating its tables if needed). */
export const make: Effect.Effect<JobStore, JobIo, SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient
  yield* Effect.mapError(ensureSchema("session-jobs", SCHEMA), io)

  const add = (session: string, payload: string): Effect.Effect<number, JobRefused | JobIo> =>
    Effect.suspend((): Effect.Effect<number, JobRefused | JobIo> => {
      const bad = badSession(session)
      if (bad !== undefined) return refuse(bad)
      if (typeof payload !== "string") return refuse("a payload is JSON text")
      try {
        JSON.parse(payload)
      } catch (e) {
        return refuse(`the payload is not JSON: ${(e as Error).message}`)
      }
      const inexact = inexactText(payload)
      if (inexact !== undefined) return refuse(`the payload cannot be stored exactly: ${inexact}`)
      return sql.unsafe(ADD, [session, payload]).values.pipe(
        Effect.mapError(io),
        Effect.map((rows) => rows[0]![0] as number)
      )
    })

  const one = (statement: string, param: unknown) =>
    sql.unsafe(statement, [param]).values.pipe(
      Effect.mapError(io),
      Effect.map((rows) => rows.length === 0 ? undefined : toJob(rows[0]!))
    )

  const get = (id: number): Effect.Effect<Job | undefined, JobRefused | JobIo> =>
    Effect.suspend((): Effect.Effect<Job | undefined, JobRefused | JobIo> => {
      const bad = badId(id)
      return bad !== undefined ? refuse(bad) : one(GET, float8(id))
    })

  const head = (session: string): Effect.Effect<Job | undefined, JobRefused | JobIo> =>
    Effect.suspend((): Effect.Effect<Job | undefined, JobRefused | JobIo> => {
      const bad = badSession(session)
      return bad !== undefined ? refuse(bad) : one(HEAD, session)
    })

  const sessionsWithWork = sql.unsafe(WITH_WORK).values.pipe(
    Effect.mapError(io),
    Effect.map((rows) => rows.map((r) => r[0] as string))
  )

  const claimSession = (session: string): Effect.Effect<SessionOwner, JobRefused | JobIo> =>
    Effect.suspend((): Effect.Effect<SessionOwner, JobRefused | JobIo> => {
      const bad = badSession(session)
      if (bad !== undefined) return refuse(bad)
      return sql.withTransaction(Effect.gen(function*() {
        const [epoch] = (yield* sql.unsafe(CLAIM, [session]).values)[0] as [number]
        const recovered = ((yield* sql.unsafe(RECOVER, [session]).raw) as { readonly rowCount: number }).rowCount
        return makeOwner(session, epoch, recovered)
      })).pipe(Effect.mapError(io))
    })

  const makeOwner = (session: string, epoch: number, recovered: number): SessionOwner => {
    const change = (id: number, statement: string, extra: ReadonlyArray<unknown>, raced = false) =>
      Effect.suspend((): Effect.Effect<boolean, JobFenced | JobRefused | JobIo> => {
        const bad = badId(id)
        if (bad !== undefined) return refuse(bad)
        return sql.unsafe(statement, [session, float8(epoch), float8(id), ...extra]).values.pipe(
          Effect.catchIf(
            (e) => raced && e.reason._tag === "UniqueViolation" && e.reason.constraint === "session_jobs_running",
            () => Effect.succeed([[epoch, 0]])
          ),
          Effect.mapError(io),
          Effect.flatMap((rows) => {
            const [current, changed] = rows[0] as [number | null, number]
            return current === epoch
              ? Effect.succeed(changed === 1)
              : Effect.fail(new JobFenced({ session, epoch, current: current ?? 0 }))
          })
        )
      })
    // a second job of the session running: refused by the unique index when a
    // concurrent start slipped past the statement's own check
    const start = (id: number) => change(id, START, [], true)
    const requeue = (id: number) => change(id, REQUEUE, [])
    const settle = (id: number, outcome: Outcome) =>
      Effect.suspend((): Effect.Effect<boolean, JobFenced | JobRefused | JobIo> => {
        const done = "ok" in outcome
        const json = jsonOf(done ? outcome.ok : outcome.error)
        if ("bad" in json) return refuse(`job ${id}: its outcome has no exact JSON form: ${json.bad}`)
        return change(id, SETTLE, done ? ["done", json.json, null] : ["failed", null, json.json])
      })
    return { session, epoch, recovered, start, requeue, settle }
  }

  return { add, get, head, sessionsWithWork, claimSession }
})
