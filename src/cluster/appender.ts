/**
 * The PostgreSQL log's group commit across serfs (SPEC §9; ./event-log.ts is
 * the log itself): the appends of one runner's serfs that meet go in one
 * statement, each serf fenced and checked on its own; one appender per SQL
 * client.
 */
import { type Context, Effect, Exit, Option } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { float8, float8s, texts } from "./exact.ts"

// Several serfs' appends in one statement (see \`Appender\`): per serf the same fence and the
// same check that its batch follows its log's last event as APPEND's, each serf's rows written
// only if both hold. $1 serfs, $2 epochs, $3 first eves (one each per serf); $4 the serf of
// each row (its 1-based place in $1), $5 wens, $6 mugs, $7 evs, $8 keys, $9 effects, $10 eves.
// Answers, per serf in order, (its place, the epoch now, rows written, the log's last event before).
const APPEND_MANY = `WITH b AS (
    SELECT serf, epoch::int8 AS epoch, first::int8 AS first, i
    FROM unnest($1::text[], $2::float8[], $3::float8[]) WITH ORDINALITY AS b (serf, epoch, first, i)),
  fence AS MATERIALIZED (SELECT serf, epoch FROM serf_epochs WHERE serf = ANY ($1::text[]) FOR SHARE),
  state AS MATERIALIZED (
    SELECT b.i, b.serf, b.epoch AS mine, b.first, f.epoch AS current,
      coalesce((SELECT max(e.eve) FROM serf_events e WHERE e.serf = b.serf), 0) AS tail
    FROM b LEFT JOIN fence f ON f.serf = b.serf),
  logged AS (
    INSERT INTO serf_events (serf, eve, wen, mug, ev, key, fec)
    SELECT s.serf, r.eve::int8, r.wen, r.mug::int8, r.ev, r.key, r.fec
    FROM unnest($4::float8[], $5::float8[], $6::float8[], $7::text[], $8::text[], $9::text[], $10::float8[]) AS r (bi, wen, mug, ev, key, fec, eve)
    JOIN state s ON s.i = r.bi::int8
    WHERE s.current = s.mine AND s.tail = s.first - 1
    RETURNING serf)
  SELECT s.i::float8, s.current::float8, (SELECT count(*) FROM logged l WHERE l.serf = s.serf)::float8, s.tail::float8
  FROM state s ORDER BY s.i`

// $1 serf, $2 epoch, $3 first eve, $4 wens, $5 mugs, $6 evs, $7 keys, $8 effects.
// Answers (the epoch now, rows written, the log's last event before).
const APPEND = `WITH fence AS (SELECT epoch FROM serf_epochs WHERE serf = $1::text FOR SHARE),
  tail AS (SELECT coalesce(max(eve), 0) AS eve FROM serf_events WHERE serf = $1::text),
  logged AS (
    INSERT INTO serf_events (serf, eve, wen, mug, ev, key, fec)
    SELECT $1::text, $3::int8 + e.n - 1, e.wen, e.mug::int8, e.ev, e.key, e.fec
    FROM unnest($4::float8[], $5::float8[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS e (wen, mug, ev, key, fec, n)
    WHERE (SELECT epoch FROM fence) = $2::int8 AND (SELECT eve FROM tail) = $3::int8 - 1
    RETURNING 1)
  SELECT (SELECT epoch FROM fence)::float8, (SELECT count(*) FROM logged)::float8, (SELECT eve FROM tail)::float8`

// ORDER BY the column, not the output `eve::float8` (which keeps the name eve, and would sort
// every row of the range instead of walking the primary key)
/** What an append statement answers for one serf: the epoch now, rows written, the log's last event before. */
export type Outcome = readonly [current: number | null, written: number, tail: number]

/** One serf's append, waiting for its statement. */
export interface Batch {
  readonly serf: string
  readonly epoch: number
  readonly first: number
  readonly wens: ReadonlyArray<number>
  readonly mugs: ReadonlyArray<number | null>
  readonly evs: ReadonlyArray<string>
  readonly keys: ReadonlyArray<string | null>
  readonly fecs: ReadonlyArray<string | null>
  readonly bytes: number
  /** Taken into a statement: from then on its outcome is the statement's. */
  sent: boolean
  /** Undefined once told (or once its caller stopped waiting before it was sent). */
  done: ((exit: Exit.Exit<Outcome, SqlError>) => void) | undefined
}

/** A combined statement carries at most this much event text (the rest waits for the next). */
const STATEMENT_BYTES = 8 * 1024 * 1024

/** Combined statements on their way at once (per client): the next one is built while one commits. */
const STATEMENTS = 2

/** Whether the server answered the statement with an error: then it did not commit, and nothing of it was written. */
const refusedByServer = (e: SqlError): boolean => {
  const code = (e.reason.cause as { readonly code?: unknown } | undefined)?.code
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)
}

/**
 * Group commit across serfs: the appends of every log of one client (one
 * runner's serfs) go to PostgreSQL in as few statements as they can. Two
 * statements are in flight at most; the appends that come meanwhile (each
 * serf's pier has at most one) go together in the next, one transaction
 * and one round trip for all of them, each serf fenced and checked on its
 * own (APPEND_MANY). A statement the server refuses (nothing of it was
 * written) is run again serf by serf, so that one serf's refusal is its own.
 * An append whose caller stops waiting before it was sent is never sent.
 */
class Appender {
  private queue: Array<Batch> = []
  /** Statements on their way (each its own loop). */
  private running = 0
  private readonly sql: SqlClient

  constructor(sql: SqlClient) {
    this.sql = sql
  }

  submit(batch: Batch, context: Context.Context<never>): void {
    this.queue.push(batch)
    if (this.running >= STATEMENTS) return
    this.running++
    // Unowned on purpose: a loop serves the appends of every serf on this SQL client (no one serf's
    // scope may end it while others wait on it), and it lives only while batches wait — it returns
    // as soon as the queue is empty, and a statement fails once the client is closed. It runs with
    // the submitting caller's services; whoever waits on a batch is told its end (below), and a
    // caller that leaves cancels its batch.
    Effect.runForkWith(context)(Effect.ensuring(this.loop, Effect.sync(() => {
      this.running--
      if (this.running > 0) return
      // anything left (every loop died): every waiter is told
      const left = this.queue
      this.queue = []
      for (const b of left) this.tell(b, Exit.die(new Error("the log's appender stopped")))
    })))
  }

  cancel(batch: Batch): void {
    batch.done = undefined
    if (batch.sent) return
    const i = this.queue.indexOf(batch)
    if (i >= 0) this.queue.splice(i, 1)
  }

  private tell(batch: Batch, exit: Exit.Exit<Outcome, SqlError>): void {
    const done = batch.done
    batch.done = undefined
    done?.(exit)
  }

  /** The next statement's appends: one per serf, up to STATEMENT_BYTES (at least one). */
  private take(): Array<Batch> {
    const taken: Array<Batch> = []
    const rest: Array<Batch> = []
    const serfs = new Set<string>()
    let bytes = 0
    for (const b of this.queue) {
      if (b.done === undefined) continue
      if (serfs.has(b.serf) || (taken.length > 0 && bytes + b.bytes > STATEMENT_BYTES)) {
        rest.push(b)
        continue
      }
      serfs.add(b.serf)
      bytes += b.bytes
      b.sent = true
      taken.push(b)
    }
    this.queue = rest
    return taken
  }

  private one(b: Batch): Effect.Effect<Outcome, SqlError> {
    return Effect.map(
      this.sql.unsafe(APPEND, [b.serf, float8(b.epoch), float8(b.first), float8s(b.wens), float8s(b.mugs), texts(b.evs), texts(b.keys), texts(b.fecs)]).values,
      (rows) => rows[0] as unknown as Outcome
    )
  }

  private many(batches: ReadonlyArray<Batch>): Effect.Effect<ReadonlyArray<Outcome>, SqlError> {
    const serfs: Array<string> = []
    const epochs: Array<number> = []
    const firsts: Array<number> = []
    const bis: Array<number> = []
    const wens: Array<number> = []
    const mugs: Array<number | null> = []
    const evs: Array<string> = []
    const keys: Array<string | null> = []
    const fecs: Array<string | null> = []
    const eves: Array<number> = []
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!
      serfs.push(b.serf)
      epochs.push(b.epoch)
      firsts.push(b.first)
      for (let k = 0; k < b.evs.length; k++) {
        bis.push(i + 1)
        wens.push(b.wens[k]!)
        mugs.push(b.mugs[k]!)
        evs.push(b.evs[k]!)
        keys.push(b.keys[k]!)
        fecs.push(b.fecs[k]!)
        eves.push(b.first + k)
      }
    }
    return Effect.map(
      this.sql.unsafe(APPEND_MANY, [
        texts(serfs), float8s(epochs), float8s(firsts),
        float8s(bis), float8s(wens), float8s(mugs), texts(evs), texts(keys), texts(fecs), float8s(eves)
      ]).values,
      (rows) => rows.map((r) => [r[1], r[2], r[3]] as unknown as Outcome)
    )
  }

  private readonly loop: Effect.Effect<void> = Effect.gen({ self: this }, function*() {
    // the appends of this tick go together
    yield* Effect.yieldNow
    for (;;) {
      const batches = this.take()
      if (batches.length === 0) return
      if (batches.length === 1) {
        this.tell(batches[0]!, yield* Effect.exit(this.one(batches[0]!)))
        continue
      }
      const exit = yield* Effect.exit(this.many(batches))
      if (Exit.isSuccess(exit) && exit.value.length === batches.length) {
        for (let i = 0; i < batches.length; i++) this.tell(batches[i]!, Exit.succeed(exit.value[i]!))
        continue
      }
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined
      if (error !== undefined && !refusedByServer(error)) {
        // the connection went: the statement may have committed
        for (const b of batches) this.tell(b, Exit.fail(error))
        continue
      }
      if (Exit.isFailure(exit) && error === undefined) {
        for (const b of batches) this.tell(b, exit as Exit.Exit<never>)
        continue
      }
      // refused as a whole (one serf's rows, say): nothing was written; each serf on its own
      for (const b of batches) this.tell(b, yield* Effect.exit(this.one(b)))
    }
  })
}

const appenders = new WeakMap<SqlClient, Appender>()
export const appenderOf = (sql: SqlClient): Appender => {
  let a = appenders.get(sql)
  if (a === undefined) appenders.set(sql, a = new Appender(sql))
  return a
}

