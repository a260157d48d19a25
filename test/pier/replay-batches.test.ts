/**
 * Replay reads the log in batches made as JSON text (../../src/pier/catch-up.ts
 * `logStream`, one `ReplayBatch` a page): the logged JSON goes into the `play`
 * frame as it is, `wen` as `JSON.stringify` writes it, and each batch's last
 * mug is checked, in either codec. A log without rows (the cluster's) gives
 * the same batches from its events.
 */
import { describe, expect } from "@effect/vitest"
import { Cause, Effect, Exit, Stream } from "effect"
import { logStream } from "../../src/pier/catch-up.ts"
import { PierDb, PierDbError } from "../../src/pier/db.ts"
import type { LoggedEvent, PierLog } from "../../src/pier/log.ts"
import { openSqlite } from "../../src/pier/sqlite.ts"
import { start } from "../../src/serf/host.ts"
import { ReplayBatch } from "../../src/serf/replay.ts"
import { live, liveIn } from "../support/live.ts"
import { kvSerf, testSerf } from "../support/serfs.ts"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"

const withDir = liveIn("liege-replay-")

/** Logged as written: spacing, key order, escapes and number forms kept. */
const texts = [
  `{"op":"put","key":"a","value":1}`,
  `{ "value" : [1, 2.50, -1.5e0, 1e2], "key": "b", "op": "put" }`,
  `{"op":"put","key":"\\u00e9\\n","value":"\\"q\\" \\\\ ✓ 😀"}`,
  `{"op":"put","key":"c","value":{"z":null,"a":true}}`,
  `{"op":"del","key":"a"}`,
  `{"op":"incr","key":"n","by":3}`,
  `{"op":"put","key":"d","value":"x"}`
]
const wens = [1700000000000, 1700000000000.5, -0, 0.1, 1e21, 5e-324, 2]

const batchesOf = (log: PierLog, after: number, upTo: number, size: number) =>
  Effect.map(Stream.runCollect(logStream(log, after, upTo, size)), (items) => items as Array<ReplayBatch>)

describe("replay in batches of logged JSON", () => {
  withDir("a page is one batch: the logged text as it is, wen as JSON.stringify writes it, the last mug; the same without rows", (dir) =>
    Effect.gen(function*() {
      const { log } = yield* openSqlite(dir)
      const events: Array<LoggedEvent> = texts.map((ev, i) => ({ eve: i + 1, wen: wens[i]!, mug: i === 4 ? null : 1000 + i, ev }))
      yield* log.append(events)
      const batches = yield* batchesOf(log, 0, 7, 3)
      expect(batches.every((b) => b instanceof ReplayBatch)).toBe(true)
      const entry = (e: LoggedEvent) => `{"wen":${JSON.stringify(e.wen)},"ev":${e.ev}}`
      expect(batches.map((b) => ({ count: b.count, json: b.json, mug: b.mug }))).toEqual([
        { count: 3, json: events.slice(0, 3).map(entry).join(","), mug: 1002 },
        { count: 3, json: events.slice(3, 6).map(entry).join(","), mug: 1005 },
        { count: 1, json: entry(events[6]!), mug: 1006 }
      ])
      // a batch ending on an event without a logged mug has none to check
      expect((yield* batchesOf(log, 2, 5, 3)).map((b) => [b.count, b.mug])).toEqual([[3, undefined]])
      // up to an event inside the log, after one: only what lies between
      expect((yield* batchesOf(log, 5, 6, 3)).map((b) => [b.count, b.json])).toEqual([[1, entry(events[5]!)]])
      expect(yield* batchesOf(log, 7, 7, 3)).toEqual([])
      // a log that only reads events (the cluster's) gives the same batches
      const { readRows: _, ...eventsOnly } = log
      expect(yield* batchesOf(eventsOnly, 0, 7, 3)).toEqual(batches)
    }))

  withDir("a log row of the wrong shape is refused, wherever it is in the page", (dir) =>
    Effect.gen(function*() {
      const db = PierDb.open(dir)
      db.append(texts.map((ev, i) => ({ eve: i + 1, wen: 1, mug: i, ev })))
      db.close()
      const raw = new DatabaseSync(path.join(dir, "pier.db"))
      raw.exec("UPDATE events SET mug = 'not a mug' WHERE eve = 2")
      raw.close()
      const again = PierDb.open(dir)
      try {
        expect(() => again.readRows(0, 7, 5)).toThrow(PierDbError)
        expect(() => again.readRows(0, 7, 5)).toThrow(/a log row is not \(eve, wen, mug, ev\)/)
        expect(again.readRows(2, 7, 5)).toHaveLength(5)
      } finally {
        again.close()
      }
    }))

  for (const codec of ["json", "msgpack"] as const) {
    withDir(`the serf gets the logged values and its mug is checked per batch (${codec})`, (dir) =>
      Effect.gen(function*() {
        const { log } = yield* openSqlite(dir)
        // the mugs a serf reports for these events, worked one by one
        const reference = yield* start({ ...kvSerf, codec })
        const events: Array<LoggedEvent> = []
        for (let i = 0; i < texts.length; i++) {
          const a = yield* reference.work(JSON.parse(texts[i]!), wens[i])
          if (a._tag !== "Done") throw new Error(`not done: ${JSON.stringify(a)}`)
          events.push({ eve: a.eve, wen: wens[i]!, mug: a.mug, ev: texts[i]! })
        }
        yield* log.append(events)
        const serf = yield* start({ ...kvSerf, codec, batchSize: 3 })
        const progress: Array<number> = []
        const r = yield* serf.replay(logStream(log, 0, 7, 3), (p) => progress.push(p.eve))
        expect(r).toEqual({ _tag: "Done", eve: 7, mug: events[6]!.mug })
        expect(progress).toEqual([3, 6, 7])
        expect(yield* serf.peek(["get", "b"])).toEqual([1, 2.5, -1.5, 100])
        expect(yield* serf.peek(["get", "é\n"])).toBe(`"q" \\ ✓ 😀`)
        // a batch whose last logged mug is not the serf's: ReplayDiverged at that event
        const diverging = yield* start({ ...kvSerf, codec, batchSize: 3 })
        const e = yield* Effect.flip(diverging.replay(Stream.fromIterable([
          new ReplayBatch(3, events.slice(0, 3).map((x) => `{"wen":1,"ev":${x.ev}}`).join(","), events[2]!.mug!),
          new ReplayBatch(3, events.slice(3, 6).map((x) => `{"wen":1,"ev":${x.ev}}`).join(","), 4242)
        ])))
        expect(e.message).toMatch(/^event 6: logged mug 4242, serf mug \d+$/)
        expect(diverging.running()).toBe(false)
      }))
  }

  live("events one by one and batches mix: the ones before a batch are played first, in batches of batchSize", () =>
    Effect.gen(function*() {
      const serf = yield* start({ ...testSerf(), batchSize: 2 })
      const progress: Array<number> = []
      const one = (n: number) => ({ wen: 0, ev: { n } })
      const r = yield* serf.replay(
        Stream.fromIterable([one(1), one(2), one(3), new ReplayBatch(2, `{"wen":0,"ev":{"n":4}},{"wen":0,"ev":{"n":5}}`, undefined), one(6)]),
        (p) => progress.push(p.eve)
      )
      expect(r).toMatchObject({ _tag: "Done", eve: 6 })
      expect(progress).toEqual([2, 3, 5, 6])
      expect(yield* serf.peek(["total"])).toBe(21)
    }))

  live("events one by one in chunks of one still make plays of batchSize", () =>
    Effect.gen(function*() {
      const serf = yield* start({ ...testSerf(), batchSize: 10 })
      const progress: Array<number> = []
      const events = Stream.fromIterable(Array.from({ length: 25 }, (_, i) => ({ wen: 0, ev: { n: i + 1 } }))).pipe(Stream.rechunk(1))
      const r = yield* serf.replay(events, (p) => progress.push(p.eve))
      expect(r).toMatchObject({ _tag: "Done", eve: 25 })
      expect(progress).toEqual([10, 20, 25])
      expect(yield* serf.peek(["total"])).toBe(325)
    }))

  live("a batch above batchSize is a defect; the serf is let go", () =>
    Effect.gen(function*() {
      const serf = yield* start({ ...testSerf(), batchSize: 2 })
      const exit = yield* Effect.exit(serf.replay(Stream.make(
        new ReplayBatch(3, `{"wen":0,"ev":{"n":1}},{"wen":0,"ev":{"n":2}},{"wen":0,"ev":{"n":3}}`, undefined)
      )))
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
      expect(serf.running()).toBe(false)
    }))
})
