/**
 * The serf logs in PostgreSQL (SPEC §3, §9), against a real PostgreSQL 15:
 * exact round trips, order, group commit (one append is one transaction),
 * and fencing (one writer per log, also while appends race a claim).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import fc from "fast-check"
import { SqlClient } from "effect/sql/SqlClient"
import { claim, type EventLog, type LoggedEvent } from "../../src/cluster/event-log.ts"
import { usePostgres } from "../support/postgres.ts"
import { clientLayer, withDatabase } from "./db.ts"

const pg = usePostgres()
const MAX = Number.MAX_SAFE_INTEGER

const batch = (first: number, n: number, tag = "e"): Array<LoggedEvent> =>
  Array.from({ length: n }, (_, i) => ({ eve: first + i, wen: 1_700_000_000_000 + first + i, mug: (first + i) % 7, ev: `{"${tag}":${first + i}}` }))

const readAll = (log: EventLog) => log.read(0, MAX, 1_000_000)

const live = <A, E>(name: string, body: (url: string) => Effect.Effect<A, E, any>, timeout?: number) =>
  it.live(name, () => withDatabase(pg.createDb, body) as Effect.Effect<A, unknown>, timeout)

describe("cluster event log", () => {
  live("keeps events exactly: JSON text byte for byte, wen and mug as numbers", () =>
    Effect.gen(function*() {
      const log = yield* claim("exact")
      expect(log.epoch).toBe(1)
      expect(yield* log.last).toBe(0)
      const texts = [
        `{"a" :  [1, 2.50, -0, 1e400, 12345678901234567890123]}`, // spacing, digits and an integer past 2^64 stay as written
        `"é 😀 漢字 עברית e\u0301"`,
        `"\\u0000 \\ud800 \\n"`, // escapes stay escapes
        `[[[[[[[[[[{"deep":{"deeper":[{"x":null}]}}]]]]]]]]]]`,
        `9007199254740991`,
        `{"big":9007199254740993}`,
        ...fc.sample(fc.json({ stringUnit: "binary", maxDepth: 5 }), 200)
      ]
      const wens = [1.5, -2.25, -0, 0, 5e-324, Number.MAX_VALUE, 1_700_000_000_123]
      const mugs = [null, 0, 0xffffffff, Number.MAX_SAFE_INTEGER, 12345]
      const events = texts.map((ev, i) => ({ eve: i + 1, wen: wens[i % wens.length]!, mug: mugs[i % mugs.length]!, ev }))
      for (let i = 0; i < events.length; i += 50) yield* log.append(events.slice(i, i + 50))
      expect(yield* log.last).toBe(events.length)
      const back: Array<LoggedEvent> = []
      for (let after = 0; after < events.length;) {
        const page = yield* log.read(after, events.length, 37)
        back.push(...page)
        after = page[page.length - 1]!.eve
      }
      expect(back).toEqual(events)
      expect(Object.is(back[2]!.wen, -0)).toBe(true)
      expect(back.every((e) => typeof e.eve === "number" && (e.mug === null || typeof e.mug === "number"))).toBe(true)
      // the bounds: (after, upTo], at most limit
      expect((yield* log.read(3, 5, 10)).map((e) => e.eve)).toEqual([4, 5])
      expect((yield* log.read(3, 50, 2)).map((e) => e.eve)).toEqual([4, 5])
      expect(yield* log.read(events.length, MAX, 10)).toEqual([])
      expect(yield* log.mugOf(3)).toBe(0xffffffff)
      expect(yield* log.mugOf(1)).toBeNull()
      expect(yield* log.mugOf(100_000)).toBeNull()
      // a new writer finds the same log
      const next = yield* claim("exact")
      expect(next.epoch).toBe(2)
      expect(yield* next.last).toBe(events.length)
      expect(yield* readAll(next)).toEqual(events)
    }))

  live("meta: set, replace, remove, exactly; other serfs' logs are apart", () =>
    Effect.gen(function*() {
      const a = yield* claim("meta-a")
      const b = yield* claim("meta-b")
      expect(yield* a.meta("pro")).toBeUndefined()
      yield* a.setMeta("pro", "1")
      yield* a.setMeta("ident", `{"hon":1,"nok":"é😀"}`)
      yield* a.setMeta("pro", "2")
      expect(yield* a.meta("pro")).toBe("2")
      expect(yield* a.meta("ident")).toBe(`{"hon":1,"nok":"é😀"}`)
      expect(yield* b.meta("pro")).toBeUndefined()
      yield* a.setMeta("pro", undefined)
      expect(yield* a.meta("pro")).toBeUndefined()
      yield* a.setMeta("pro", undefined) // removing what is not there is fine
      yield* a.append(batch(1, 3))
      yield* b.append(batch(1, 2, "b"))
      expect((yield* readAll(a)).map((e) => e.ev)).toEqual([`{"e":1}`, `{"e":2}`, `{"e":3}`])
      expect((yield* readAll(b)).map((e) => e.ev)).toEqual([`{"b":1}`, `{"b":2}`])
    }))

  live("refuses what it cannot keep exactly or in order, writing nothing", () =>
    Effect.gen(function*() {
      const log = yield* claim("refuse")
      yield* log.append(batch(1, 2))
      const refused = (events: Array<LoggedEvent>) => Effect.map(Effect.flip(log.append(events)), (e) => e._tag)
      const one = (e: Partial<LoggedEvent>) => [{ eve: 3, wen: 1, mug: 1, ev: "1", ...e }]
      expect(yield* refused(one({ ev: `"\ud800"` }))).toBe("LogRefused") // a lone surrogate has no UTF-8
      expect(yield* refused(one({ ev: `"a\u0000b"` }))).toBe("LogRefused") // text cannot hold NUL
      expect(yield* refused(one({ wen: Number.NaN }))).toBe("LogRefused")
      expect(yield* refused(one({ mug: 1.5 }))).toBe("LogRefused")
      expect(yield* refused(one({ eve: 5 }))).toBe("LogRefused") // a gap
      expect(yield* refused(one({ eve: 2 }))).toBe("LogRefused") // already logged
      expect(yield* refused([...batch(3, 2), ...batch(6, 1)])).toBe("LogRefused") // not consecutive
      expect((yield* Effect.flip(log.meta("k\u0000")))._tag).toBe("LogRefused")
      expect((yield* Effect.flip(log.setMeta("k", "\udfff")))._tag).toBe("LogRefused")
      expect((yield* Effect.flip(log.read(-1, 3, 1)))._tag).toBe("LogRefused")
      expect((yield* Effect.flip(claim("no/slashes")))._tag).toBe("LogRefused")
      expect((yield* Effect.flip(claim("x".repeat(65))))._tag).toBe("LogRefused")
      expect((yield* readAll(log)).map((e) => e.eve)).toEqual([1, 2])
      expect(yield* log.last).toBe(2)
      yield* log.append(batch(3, 1))
      expect(yield* log.last).toBe(3)
    }))

  live("keyed events: those logged with a key, after an event, from a wen on", () =>
    Effect.gen(function*() {
      const log = yield* claim("keyed")
      yield* log.append([
        { eve: 1, wen: 100, mug: 1, ev: "1", key: "k1", fec: "[1]" },
        { eve: 2, wen: 200, mug: 2, ev: "2" },
        { eve: 3, wen: 300, mug: null, ev: "3", key: "k3", fec: "[]" },
        { eve: 4, wen: 250, mug: 4, ev: "4", key: "k4" }
      ])
      expect((yield* log.keyed(0)).map((k) => k.key)).toEqual(["k1", "k3", "k4"])
      expect(yield* log.keyed(2)).toEqual([
        { key: "k3", eve: 3, mug: null, ev: "3", fec: "[]" },
        { key: "k4", eve: 4, mug: 4, ev: "4", fec: null }
      ])
      expect((yield* log.keyed(0, 250)).map((k) => k.key)).toEqual(["k3", "k4"])
      expect((yield* log.keyed(0, 301)).map((k) => k.key)).toEqual([])
    }))

  live("an event too big to be read back is refused; the biggest that fits comes back", () =>
    Effect.gen(function*() {
      const log = yield* claim("big")
      // @effect/sql-pg refuses a backend message over 16 MiB: the row of an event must fit in one
      const fits = 16 * 1024 * 1024 - 64
      const text = (bytes: number) => `"${"x".repeat(bytes - 2)}"`
      expect((yield* Effect.flip(log.append([{ eve: 1, wen: 1, mug: 1, ev: text(fits + 1) }])))._tag).toBe("LogRefused")
      yield* log.append([{ eve: 1, wen: 1, mug: 1, ev: text(fits) }])
      const [back] = yield* log.read(0, 1, 1)
      expect(back!.ev.length).toBe(fits)
    }))

  live("one append is one transaction: a row failing at the end leaves none of the batch", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const log = yield* claim("group")
      yield* log.append(batch(1, 10))
      // make the last row of the next batch fail inside the database
      yield* sql`ALTER TABLE serf_events ADD CONSTRAINT no_poison CHECK (ev <> '"poison"')`
      const events = batch(11, 1000)
      const poisoned = [...events.slice(0, 999), { ...events[999]!, ev: `"poison"` }]
      const failed = yield* Effect.flip(log.append(poisoned))
      expect(failed).toMatchObject({ _tag: "LogIo", serf: "group" })
      expect(failed.message).toMatch(/no_poison/) // PostgreSQL's own words reach the error
      expect(yield* log.read(10, MAX, 2000)).toEqual([])
      expect(yield* log.last).toBe(10) // read again after the failure
      yield* log.append(events)
      expect(yield* log.read(10, MAX, 2000)).toEqual(events)
      const [row] = yield* sql<{ n: number }>`
        SELECT count(DISTINCT xmin::text)::int4 AS n FROM serf_events WHERE serf = 'group' AND eve > 10`
      expect(row!.n).toBe(1) // all 1000 rows were written by one transaction
    }))

  live("appends of several serfs at once go in one transaction, each serf fenced and checked on its own", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const [a, b, c, d] = yield* Effect.forEach(["many-a", "many-b", "many-c", "many-d"], (serf) => claim(serf))
      yield* Effect.forEach([a!, b!, c!, d!], (log) => log.append(batch(1, 2)), { discard: true })
      yield* claim("many-b") // b's writer is fenced off
      const outcomes = yield* Effect.all([
        Effect.result(a!.append(batch(3, 4, "a"))),
        Effect.result(b!.append(batch(3, 1, "b"))),
        Effect.result(c!.append(batch(4, 1, "c"))), // a gap
        Effect.result(d!.append(batch(3, 7, "d")))
      ], { concurrency: "unbounded" })
      expect(outcomes.map((o) => o._tag === "Success" ? "ok" : o.failure._tag)).toEqual(["ok", "LogFenced", "LogRefused", "ok"])
      expect((yield* readAll(a!)).map((e) => e.eve)).toEqual([1, 2, 3, 4, 5, 6])
      expect((yield* readAll(b!)).map((e) => e.eve)).toEqual([1, 2])
      expect((yield* readAll(c!)).map((e) => e.eve)).toEqual([1, 2])
      expect((yield* readAll(d!)).map((e) => e.ev)).toEqual([...batch(1, 2), ...batch(3, 7, "d")].map((e) => e.ev))
      expect(yield* a!.last).toBe(6)
      expect(yield* d!.last).toBe(9)
      const [row] = yield* sql<{ n: number }>`
        SELECT count(DISTINCT xmin::text)::int4 AS n FROM serf_events WHERE serf IN ('many-a', 'many-d') AND eve > 2`
      expect(row!.n).toBe(1) // a's and d's appends were one transaction
      // one serf's rows refused by the database: the others are logged all the same, in their own transactions
      yield* sql`ALTER TABLE serf_events ADD CONSTRAINT no_poison_many CHECK (ev <> '"poison"')`
      const again = yield* Effect.all([
        Effect.result(a!.append([{ eve: 7, wen: 1, mug: 1, ev: `"poison"` }])),
        Effect.result(d!.append(batch(10, 2, "d")))
      ], { concurrency: "unbounded" })
      expect(again.map((o) => o._tag === "Success" ? "ok" : o.failure._tag)).toEqual(["LogIo", "ok"])
      expect(yield* a!.last).toBe(6)
      expect((yield* readAll(d!)).map((e) => e.eve)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1))
    }))

  live("a claimed log fences its older writer: its appends and meta fail and write nothing", () =>
    Effect.gen(function*() {
      const a = yield* claim("fence")
      yield* a.append(batch(1, 5, "a"))
      yield* a.setMeta("owner", "a")
      const b = yield* claim("fence")
      expect(b.epoch).toBe(a.epoch + 1)
      expect(yield* b.last).toBe(5)
      const fenced = yield* Effect.flip(a.append(batch(6, 3, "a")))
      expect(fenced).toMatchObject({ _tag: "LogFenced", serf: "fence", epoch: 1, current: 2 })
      expect((yield* Effect.flip(a.setMeta("owner", "a again")))._tag).toBe("LogFenced")
      expect((yield* Effect.flip(a.setMeta("owner", undefined)))._tag).toBe("LogFenced")
      expect(yield* b.meta("owner")).toBe("a")
      expect((yield* readAll(b)).length).toBe(5)
      yield* b.append(batch(6, 3, "b"))
      expect((yield* Effect.flip(a.append(batch(9, 1, "a"))))._tag).toBe("LogFenced")
      expect((yield* readAll(b)).map((e) => e.ev)).toEqual([...batch(1, 5, "a"), ...batch(6, 3, "b")].map((e) => e.ev))
      // a stale writer still reads
      expect((yield* readAll(a)).length).toBe(8)
    }))

  live("appends racing a claim: none of the older writer's rows lands after the claim returned", () =>
    Effect.gen(function*() {
      /** One serf: `writers` fibers of writer A append as fast as they can; B claims after A's `claimAfter`-th success. */
      const round = (serf: string, writers: number, claimAfter: number) =>
        Effect.gen(function*() {
          const a = yield* claim(serf)
          let acked = 0
          let successes = 0
          const enough = yield* Deferred.make<void>()
          const writer = (k: number) =>
            Effect.gen(function*() {
              for (let i = 0;; i++) {
                const last = yield* a.last
                // mostly small batches, some big ones (a long statement widens the race with the claim)
                const size = (i + k) % 3 === 2 ? 1500 : 1 + ((k * 31 + i * 17) % 120)
                const result = yield* Effect.result(a.append(batch(last + 1, size)))
                if (result._tag === "Success") {
                  acked = Math.max(acked, last + size)
                  if (++successes === claimAfter) yield* Deferred.succeed(enough, undefined)
                } else if (result.failure._tag === "LogFenced") {
                  return
                }
                // LogRefused / LogIo: another fiber of A appended first; go again
              }
            })
          const fibers = yield* Effect.forkChild(Effect.forEach(Array.from({ length: writers }, (_, k) => k), writer, { concurrency: "unbounded", discard: true }))
          yield* Deferred.await(enough)
          const b = yield* claim(serf)
          const atClaim = yield* b.last
          yield* Fiber.join(fibers)
          const rows = yield* readAll(b)
          expect(rows.length).toBe(atClaim)
          expect(rows.map((r) => r.eve)).toEqual(Array.from({ length: atClaim }, (_, i) => i + 1))
          // every acknowledged append is in the log
          expect(acked).toBe(atClaim)
          return atClaim
        })
      const rounds = Array.from({ length: 24 }, (_, i) => ({ serf: `race-${i}`, writers: 1 + (i % 4), claimAfter: 1 + ((i * 7) % 15) }))
      const sizes = yield* Effect.forEach(rounds, (r) => round(r.serf, r.writers, r.claimAfter), { concurrency: 4 })
      expect(sizes.every((n) => n > 0)).toBe(true)
    }), 120_000)

  it.live("claims are atomic and the schema is made once, with several runners starting at once", () =>
    Effect.gen(function*() {
      for (let round = 0; round < 4; round++) {
        const url = yield* Effect.promise(pg.createDb)
        // separate clients (separate connections, already open), as separate runners would have,
        // all let go at once on an empty database
        const clients = yield* Effect.forEach(Array.from({ length: 8 }, () => 0), () =>
          Effect.tap(Layer.build(Layer.fresh(clientLayer(url))), (context) =>
            Effect.provide(SqlClient.use((sql) => sql`SELECT 1`), context)))
        const go = yield* Deferred.make<void>()
        const epochs = yield* Effect.forEach(
          clients,
          (context) => Effect.andThen(Deferred.await(go), Effect.map(Effect.provide(claim("shared"), context), (log) => log.epoch)),
          { concurrency: "unbounded" }
        ).pipe(Effect.forkChild)
        yield* Deferred.succeed(go, undefined)
        expect([...(yield* Fiber.join(epochs))].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
      }
    }).pipe(Effect.scoped))

  live("a killed connection is replaced: the writer goes on after one failed statement at most", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const log = yield* claim("killed")
      yield* log.append(batch(1, 3))
      // every connection of this database, this one too (so the statement itself fails)
      yield* Effect.ignore(sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()`)
      yield* Effect.retry(log.append(batch(4, 3)), { times: 1, while: (e) => e._tag === "LogIo" })
      expect((yield* readAll(log)).map((e) => e.eve)).toEqual([1, 2, 3, 4, 5, 6])
    }))
})
