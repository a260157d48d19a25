/**
 * A serf's durable event log in PostgreSQL (SPEC §3, §9): the cluster's twin
 * of the pier's SQLite log (`src/pier/db.ts`), for one serf id, with
 * fencing.
 *
 *   serf_epochs (serf PRIMARY KEY, epoch)      the fencing token
 *   serf_events (serf, eve, wen, mug, ev)      PRIMARY KEY (serf, eve)
 *   serf_meta   (serf, key, value)             PRIMARY KEY (serf, key)
 *
 * `ev` is the event's JSON text, stored as given; `wen` a float8 (any finite
 * JS number, as the protocol's `wen`); `mug` a bigint or NULL.
 *
 * **One writer per log.** `claim(serf)` bumps the serf's epoch
 * (`INSERT … ON CONFLICT DO UPDATE SET epoch = epoch + 1`, creating the row
 * the first time) and returns a writer holding the new epoch. Every write of
 * a writer (append, setMeta) is one statement, so one transaction, that
 * takes the epoch row `FOR SHARE`, and writes only if the epoch is still
 * its own; otherwise `LogFenced`, nothing written.
 *
 * Why that is enough: the claim's update of the epoch row waits for every
 * share lock on it, that is for every write in flight, to commit. A write
 * that comes to the row after the claim re-reads it (READ COMMITTED follows
 * the update to the newest version) and sees the new epoch. So when `claim`
 * returns, every write of an older writer has either committed, and the new
 * writer's reads (later statements, later snapshots) see it, or will fail.
 * The new writer reads the log's end only after its claim has committed, in
 * a statement of its own: a snapshot taken before the wait would miss the
 * writes it waited for.
 *
 * **In order, no gaps, no duplicates.** A batch is consecutive events; it is
 * written only if its first event follows the last logged one (checked in
 * the same statement), and `(serf, eve)` is the primary key. One append is
 * one multi-row INSERT (`unnest` of three arrays): all of it or none.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { LoggedEvent } from "../pier/log.ts"
import { LogFenced, LogIo, LogRefused, sqlReason } from "./errors.ts"
import { float8, inexactText } from "./exact.ts"
import { appenderOf, type Batch, type Outcome } from "./appender.ts"
import { ensureSchema } from "./schema.ts"

export type { LoggedEvent }

/** An event logged with its caller's key: enough to answer it again. */
export interface KeyedEvent {
  readonly key: string
  readonly eve: number
  readonly mug: number | null
  readonly ev: string
  readonly fec: string | null
}

export interface EventLog {
  readonly serf: string
  /** This writer's fencing token. */
  readonly epoch: number
  /**
   * The last logged event (0 for an empty log), as known to this writer. After
   * an append whose outcome is unknown (`LogIo`), read again from the database.
   */
  readonly last: Effect.Effect<number, LogIo>
  /**
   * Appends consecutive events following the last logged one, in one
   * transaction, if this writer still holds the log. Nothing is written on
   * any failure — except that after `LogIo` the outcome may be unknown (see `last`).
   */
  readonly append: (events: ReadonlyArray<LoggedEvent>) => Effect.Effect<void, LogFenced | LogRefused | LogIo>
  /** Events in (after, upTo], at most `limit`, in order. */
  readonly read: (after: number, upTo: number, limit: number) => Effect.Effect<ReadonlyArray<LoggedEvent>, LogRefused | LogIo>
  /**
   * Events after `after` that were logged with a caller's key, and (with
   * `since`) a `wen` from then on: what a re-sent event is answered from.
   */
  readonly keyed: (after: number, since?: number) => Effect.Effect<ReadonlyArray<KeyedEvent>, LogRefused | LogIo>
  /** The logged mug of event `eve` (null when not recorded or absent). */
  readonly mugOf: (eve: number) => Effect.Effect<number | null, LogRefused | LogIo>
  readonly meta: (key: string) => Effect.Effect<string | undefined, LogRefused | LogIo>
  /** Sets (or, with undefined, removes) a meta value, if this writer still holds the log. */
  readonly setMeta: (key: string, value: string | undefined) => Effect.Effect<void, LogFenced | LogRefused | LogIo>
}

/** A serf id (SPEC §9). */
export const SERF_ID = /^[A-Za-z0-9_-]{1,64}$/

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS serf_epochs (
    serf text PRIMARY KEY,
    epoch bigint NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS serf_events (
    serf text NOT NULL,
    eve bigint NOT NULL CHECK (eve >= 1),
    wen double precision NOT NULL,
    mug bigint,
    ev text NOT NULL,
    key text,
    fec text,
    PRIMARY KEY (serf, eve)
  )`,
  // a caller's key is logged once per serf: an event re-sent by the cluster cannot be logged twice
  `CREATE UNIQUE INDEX IF NOT EXISTS serf_events_key ON serf_events (serf, key) WHERE key IS NOT NULL`,
  `CREATE TABLE IF NOT EXISTS serf_meta (
    serf text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (serf, key)
  )`
]

const CLAIM = `INSERT INTO serf_epochs AS s (serf, epoch) VALUES ($1::text, 1)
  ON CONFLICT (serf) DO UPDATE SET epoch = s.epoch + 1
  RETURNING epoch::float8`

const LAST = `SELECT coalesce(max(eve), 0)::float8 FROM serf_events WHERE serf = $1::text`

const READ = `SELECT eve::float8, wen, mug::float8, ev FROM serf_events
  WHERE serf = $1::text AND eve > $2::int8 AND eve <= $3::int8 ORDER BY serf_events.eve LIMIT $4::int8`

const MUG = `SELECT mug::float8 FROM serf_events WHERE serf = $1::text AND eve = $2::int8`

const KEYED = `SELECT key, eve::float8, mug::float8, ev, fec FROM serf_events
  WHERE serf = $1::text AND eve > $2::int8 AND key IS NOT NULL AND wen >= $3::float8 ORDER BY serf_events.eve`

const META = `SELECT value FROM serf_meta WHERE serf = $1::text AND key = $2::text`

// $1 serf, $2 epoch, $3 key, $4 value. Answers the epoch now.
const PUT_META = `WITH fence AS (SELECT epoch FROM serf_epochs WHERE serf = $1::text FOR SHARE),
  put AS (
    INSERT INTO serf_meta (serf, key, value) SELECT $1::text, $3::text, $4::text
    WHERE (SELECT epoch FROM fence) = $2::int8
    ON CONFLICT (serf, key) DO UPDATE SET value = excluded.value
    RETURNING 1)
  SELECT (SELECT epoch FROM fence)::float8`

const DELETE_META = `WITH fence AS (SELECT epoch FROM serf_epochs WHERE serf = $1::text FOR SHARE),
  gone AS (
    DELETE FROM serf_meta WHERE serf = $1::text AND key = $3::text AND (SELECT epoch FROM fence) = $2::int8
    RETURNING 1)
  SELECT (SELECT epoch FROM fence)::float8`

/** @effect/sql-pg's default largest backend message (a row read back must fit in one). */
const DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024
/** A row's message besides `ev`: header, field count and lengths, eve, wen, mug. */
const ROW_OVERHEAD = 64

const isPosition = (n: number) => Number.isSafeInteger(n) && n >= 0

/**
 * Claims the log of `serf` (creating the tables and the serf's epoch row if
 * needed): every earlier writer is fenced off from here on.
 */
export const claim = (serf: string): Effect.Effect<EventLog, LogRefused | LogIo, SqlClient> =>
  Effect.gen(function*() {
    if (!SERF_ID.test(serf)) {
      return yield* new LogRefused({ serf, reason: "a serf id is 1 to 64 characters of A-Z a-z 0-9 _ -" })
    }
    const sql = yield* SqlClient
    const pg = yield* Effect.serviceOption(PgClient.PgClient)
    const maxMessage = Option.match(pg, { onNone: () => undefined, onSome: (c) => c.config.maxMessageSize }) ?? DEFAULT_MAX_MESSAGE
    const io = (e: SqlError) => new LogIo({ serf, reason: sqlReason(e) })
    yield* Effect.mapError(ensureSchema("serf-log", SCHEMA), io)
    const [epoch] = (yield* Effect.mapError(sql.unsafe(CLAIM, [serf]).values, io))[0] as [number]
    // a statement of its own, after the claim committed: it sees every write the claim waited for
    const [last] = (yield* Effect.mapError(sql.unsafe(LAST, [serf]).values, io))[0] as [number]
    return makeLog(sql, serf, epoch, last, maxMessage - ROW_OVERHEAD)
  })

const makeLog = (sql: SqlClient, serf: string, epoch: number, last: number, maxEvBytes: number): EventLog => {
  /** The last logged event, or undefined after an append whose outcome is unknown. */
  let known: number | undefined = last
  const io = (e: SqlError) => new LogIo({ serf, reason: sqlReason(e) })
  const refuse = (reason: string) => Effect.fail(new LogRefused({ serf, reason }))
  const fenced = (current: number | null) => new LogFenced({ serf, epoch, current: current ?? 0 })

  const lastEve: Effect.Effect<number, LogIo> = Effect.suspend(() =>
    known !== undefined
      ? Effect.succeed(known)
      : sql.unsafe(LAST, [serf]).values.pipe(
        Effect.mapError(io),
        Effect.map((rows) => {
          const eve = rows[0]![0] as number
          known = eve
          return eve
        })
      )
  )

  const append = (events: ReadonlyArray<LoggedEvent>): Effect.Effect<void, LogFenced | LogRefused | LogIo> =>
    Effect.suspend((): Effect.Effect<void, LogFenced | LogRefused | LogIo> => {
      const n = events.length
      if (n === 0) return Effect.void
      const first = events[0]!.eve
      if (!Number.isSafeInteger(first) || first < 1 || !Number.isSafeInteger(first + n - 1)) {
        return refuse(`event numbers are safe integers from 1 (got ${first})`)
      }
      const wens = new Array<number>(n)
      const mugs = new Array<number | null>(n)
      const evs = new Array<string>(n)
      const keys = new Array<string | null>(n)
      const fecs = new Array<string | null>(n)
      let bytes = 0
      for (let i = 0; i < n; i++) {
        const e = events[i]!
        if (e.eve !== first + i) return refuse(`a batch holds consecutive events: event ${e.eve} after ${first + i - 1}`)
        if (typeof e.wen !== "number" || !Number.isFinite(e.wen)) return refuse(`event ${e.eve}: wen ${e.wen} is not a finite number`)
        if (e.mug !== null && !Number.isSafeInteger(e.mug)) return refuse(`event ${e.eve}: mug ${e.mug} is not a safe integer`)
        if (typeof e.ev !== "string") return refuse(`event ${e.eve}: ev is not JSON text`)
        const inexact = inexactText(e.ev)
        if (inexact !== undefined) return refuse(`event ${e.eve} cannot be stored exactly: ${inexact}`)
        if (e.ev.length * 3 > maxEvBytes && Buffer.byteLength(e.ev) > maxEvBytes) {
          return refuse(`event ${e.eve} is ${Buffer.byteLength(e.ev)} bytes; a logged event is at most ${maxEvBytes} (it could not be read back)`)
        }
        wens[i] = e.wen
        mugs[i] = e.mug
        evs[i] = e.ev
        keys[i] = e.key ?? null
        fecs[i] = e.fec ?? null
        bytes += e.ev.length + (e.fec?.length ?? 0)
      }
      const appender = appenderOf(sql)
      const outcome = Effect.flatMap(Effect.context<never>(), (context) =>
        Effect.callback<Outcome, SqlError>((resume) => {
          const batch: Batch = { serf, epoch, first, wens, mugs, evs, keys, fecs, bytes, sent: false, done: resume }
          appender.submit(batch, context)
          // not sent yet: it never will be (a pier that stopped waiting must not have it logged later)
          return Effect.sync(() => appender.cancel(batch))
        }))
      return outcome.pipe(
        Effect.mapError((e) => {
          // the statement may have committed before the connection went: ask the log next time
          known = undefined
          return io(e)
        }),
        Effect.flatMap(([current, written, tail]): Effect.Effect<void, LogFenced | LogRefused> => {
          if (current !== epoch) return Effect.fail(fenced(current))
          if (written !== n) {
            if (known === undefined || known < tail) known = tail
            return refuse(`event ${first} does not follow the log's last event ${tail}`)
          }
          const end = first + n - 1
          if (known === undefined || known < end) known = end
          return Effect.void
        })
      )
    })

  const read = (after: number, upTo: number, limit: number): Effect.Effect<ReadonlyArray<LoggedEvent>, LogRefused | LogIo> =>
    Effect.suspend((): Effect.Effect<ReadonlyArray<LoggedEvent>, LogRefused | LogIo> => {
      if (!isPosition(after) || !isPosition(upTo) || !Number.isSafeInteger(limit) || limit < 1) {
        return refuse(`read(${after}, ${upTo}, ${limit}): positions are safe integers from 0, the limit one from 1`)
      }
      return sql.unsafe(READ, [serf, float8(after), float8(upTo), float8(limit)]).values.pipe(
        Effect.mapError(io),
        Effect.map((rows) => {
          const out = new Array<LoggedEvent>(rows.length)
          for (let i = 0; i < rows.length; i++) {
            const r = rows[i]!
            out[i] = { eve: r[0] as number, wen: r[1] as number, mug: r[2] as number | null, ev: r[3] as string }
          }
          return out
        })
      )
    })

  const mugOf = (eve: number): Effect.Effect<number | null, LogRefused | LogIo> =>
    Effect.suspend((): Effect.Effect<number | null, LogRefused | LogIo> => {
      if (!isPosition(eve)) return refuse(`mugOf(${eve}): an event number is a safe integer`)
      return sql.unsafe(MUG, [serf, float8(eve)]).values.pipe(
        Effect.mapError(io),
        Effect.map((rows) => (rows[0]?.[0] ?? null) as number | null)
      )
    })

  const checkText = (what: string, s: string): string | undefined => {
    if (typeof s !== "string") return `meta ${what} is not a string`
    const inexact = inexactText(s)
    return inexact === undefined ? undefined : `meta ${what} cannot be stored exactly: ${inexact}`
  }

  const meta = (key: string): Effect.Effect<string | undefined, LogRefused | LogIo> =>
    Effect.suspend((): Effect.Effect<string | undefined, LogRefused | LogIo> => {
      const bad = checkText("key", key)
      if (bad !== undefined) return refuse(bad)
      return sql.unsafe(META, [serf, key]).values.pipe(
        Effect.mapError(io),
        Effect.map((rows) => rows[0]?.[0] as string | undefined)
      )
    })

  const setMeta = (key: string, value: string | undefined): Effect.Effect<void, LogFenced | LogRefused | LogIo> =>
    Effect.suspend((): Effect.Effect<void, LogFenced | LogRefused | LogIo> => {
      const bad = checkText("key", key) ?? (value === undefined ? undefined : checkText("value", value))
      if (bad !== undefined) return refuse(bad)
      const statement = value === undefined
        ? sql.unsafe(DELETE_META, [serf, float8(epoch), key])
        : sql.unsafe(PUT_META, [serf, float8(epoch), key, value])
      return statement.values.pipe(
        Effect.mapError(io),
        Effect.flatMap((rows) => {
          const current = rows[0]![0] as number | null
          return current === epoch ? Effect.void : Effect.fail(fenced(current))
        })
      )
    })

  const keyed = (after: number, since = -Number.MAX_VALUE): Effect.Effect<ReadonlyArray<KeyedEvent>, LogRefused | LogIo> =>
    Effect.suspend((): Effect.Effect<ReadonlyArray<KeyedEvent>, LogRefused | LogIo> => {
      if (!isPosition(after)) return refuse(`keyed(${after}): an event number is a safe integer`)
      if (Number.isNaN(since)) return refuse(`keyed(${after}, ${since}): since is a number`)
      return sql.unsafe(KEYED, [serf, float8(after), float8(since)]).values.pipe(
        Effect.mapError(io),
        Effect.map((rows) =>
          rows.map((r) => ({ key: r[0] as string, eve: r[1] as number, mug: r[2] as number | null, ev: r[3] as string, fec: r[4] as string | null }))
        )
      )
    })

  return { serf, epoch, last: lastEve, append, read, keyed, mugOf, meta, setMeta }
}
