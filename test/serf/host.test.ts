import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { start } from "../../src/serf/host.ts"
import { captureLogs } from "../support/logs.ts"
import { fixture, node, until } from "../support/procs.ts"
import { kvSerf, tempDir, testSerf } from "../support/serfs.ts"

const quiet = Logger.layer([])
const live = <A, E>(name: string, body: () => Effect.Effect<A, E, any>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(quiet)) as Effect.Effect<A, E>)

describe("serf host", () => {
  live("start waits for ripe; boot plays every boot event from 1", () =>
    Effect.gen(function*() {
      const serf = yield* start(kvSerf)
      expect(serf.ripe).toMatchObject({ t: "ripe", pro: 1, eve: 0, mug: 0 })
      const booted = yield* serf.boot([
        { wen: 1, ev: { op: "put", key: "a", value: 1 } },
        { wen: 2, ev: { op: "put", key: "b", value: [1, 2] } }
      ])
      expect(booted).toMatchObject({ _tag: "Done", eve: 2 })
      expect(serf.state()).toEqual({ eve: 2, mug: booted.mug })
      expect(yield* serf.peek(["get", "b"])).toEqual([1, 2])
    }))

  live("work is pipelined and answered in order, each answer to its caller", () =>
    Effect.gen(function*() {
      const serf = yield* start({ ...kvSerf, maxInFlight: 8 })
      // each caller's event is its own (a key of its own), so a misdelivered answer shows
      const answers = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => serf.work({ op: "put", key: `k${i}`, value: i }).pipe(Effect.map((a) => [i, a] as const)),
        { concurrency: "unbounded" }
      )
      for (const [i, a] of answers) {
        // submitted in order, answered in order: caller i's event is event i + 1
        expect(a).toMatchObject({ _tag: "Done", eve: i + 1, ev: { key: `k${i}` }, effects: [{ key: `k${i}`, old: null }] })
      }
      expect(serf.state().eve).toBe(200)
      expect(yield* serf.peek(["size"])).toBe(200)
    }))

  live("bail and swap are answers, not errors", () =>
    Effect.gen(function*() {
      const serf = yield* start(kvSerf)
      const bail = yield* serf.work({ op: "nonsense" })
      expect(bail._tag).toBe("Bail")
      if (bail._tag === "Bail") expect(bail.goofs[0]!.mote).toBe("TypeError")
      const swap = yield* serf.work({ op: "crash" })
      expect(swap).toMatchObject({ _tag: "Swap", eve: 1, ev: { op: "crashed" } })
      expect(serf.state().eve).toBe(1)
    }))

  live("save writes a snapshot the next serf starts from", () =>
    Effect.gen(function*() {
      const pier = tempDir()
      try {
        const first = yield* Effect.scoped(Effect.gen(function*() {
          const serf = yield* start({ ...kvSerf, pier })
          yield* serf.work({ op: "put", key: "x", value: "y" })
          expect(yield* serf.save()).toBe(1)
          expect(yield* serf.pack()).toBe(1)
          const r = yield* serf.stop
          expect(r.termination).toBe("Clean")
          return serf.state()
        }))
        expect(fs.existsSync(path.join(pier, "kv-snapshot.json"))).toBe(true)
        const serf = yield* start({ ...kvSerf, pier })
        expect(serf.ripe).toMatchObject({ eve: 1, mug: first.mug })
        expect(yield* serf.peek(["get", "x"])).toBe("y")
      } finally {
        fs.rmSync(pier, { recursive: true, force: true })
      }
    }))

  live("replay plays batches of batchSize, reports progress, and checks logged mugs", () =>
    Effect.gen(function*() {
      const reference = yield* start(testSerf())
      const mugs: Array<number> = []
      for (let i = 1; i <= 25; i++) mugs.push(((yield* reference.work({ n: i })) as { mug: number }).mug)
      const serf = yield* start({ ...testSerf(), batchSize: 10 })
      const progress: Array<number> = []
      const events = Stream.fromIterable(mugs.map((mug, i) => ({ wen: i, ev: { n: i + 1 }, mug })))
      const r = yield* serf.replay(events, (p) => progress.push(p.eve))
      expect(r).toEqual({ _tag: "Done", eve: 25, mug: mugs[24] })
      expect(progress).toEqual([10, 20, 25])
    }))

  live("replay stops at play-bail with the state before the failing event", () =>
    Effect.gen(function*() {
      const serf = yield* start({ ...testSerf(), batchSize: 4 })
      const events = [1, 2, 3, 4, 5, "bail", 7].map((n, i) => ({ wen: i, ev: n === "bail" ? { op: "bail" } : { n } }))
      const r = yield* serf.replay(Stream.fromIterable(events))
      expect(r).toMatchObject({ _tag: "Bail", eve: 6 })
      expect(serf.state().eve).toBe(5)
      expect(serf.running()).toBe(true)
      expect(yield* serf.peek(["total"])).toBe(15)
    }))

  live("a diverged replay fails with ReplayDiverged and kills the serf", () =>
    Effect.gen(function*() {
      const serf = yield* start({ ...testSerf(), batchSize: 2 })
      const e = yield* Effect.flip(serf.replay(Stream.fromIterable([
        { wen: 0, ev: { n: 1 } },
        { wen: 0, ev: { n: 1 }, mug: 12345 }
      ])))
      expect(e._tag).toBe("ReplayDiverged")
      expect(e.message).toMatch(/^event 2: logged mug 12345, serf mug \d+$/)
      expect(serf.running()).toBe(false)
      expect((yield* serf.exited).termination).not.toBe("Indeterminate")
    }))

  live("swim collects effects; a bail during swim is SwimFailed", () =>
    Effect.gen(function*() {
      const serf = yield* start(testSerf())
      const fx = yield* serf.swim(Stream.fromIterable([{ wen: 0, ev: { n: 2 } }, { wen: 0, ev: { n: 3 } }]))
      expect(fx.map((f) => f.effects)).toEqual([[{ total: 2 }], [{ total: 5 }]])
      const e = yield* Effect.flip(serf.swim(Stream.fromIterable([{ wen: 0, ev: { op: "bail" } }])))
      expect(e._tag).toBe("SwimFailed")
    }))

  it.live("a flow interrupted while holding the lock kills the serf; later flows fail SerfNotRunning", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const serf = yield* start({ ...testSerf(), stopGrace: 200 })
      const fiber = yield* Effect.forkChild(serf.peek(["sleep", "30000"]))
      // the serf says so on stderr once it has the peek: the flow holds the lock
      yield* until(() => logs.lines.some((l) => l.message === "stderr: peek sleeping"))
      yield* Fiber.interrupt(fiber)
      expect(serf.running()).toBe(false)
      const later = yield* Effect.flip(serf.work({ n: 1 }))
      expect(later._tag).toBe("SerfNotRunning")
      expect((yield* Effect.flip(serf.peek(["total"])))._tag).toBe("SerfNotRunning")
      const r = yield* serf.exited
      expect(r.termination).toBe("Escalated")
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  live("control requests drain the window first and run alone", () =>
    Effect.gen(function*() {
      const log = path.join(tempDir(), "window")
      const serf = yield* start({ ...testSerf({ TEST_SERF_LAZY: "1", TEST_SERF_LOG: log }), maxInFlight: 5 })
      const works = yield* Effect.forkChild(Effect.forEach(
        Array.from({ length: 40 }, () => ({ n: 1 })),
        (ev) => serf.work(ev),
        { concurrency: "unbounded" }
      ))
      const total = yield* serf.peek(["total"])
      const answers = yield* Fiber.join(works)
      expect(answers).toHaveLength(40)
      expect(typeof total).toBe("number")
      const seen = fs.readFileSync(log, "utf8").trim().split("\n").map(Number)
      expect(Math.max(...seen)).toBeLessThanOrEqual(5)
      expect(Math.max(...seen)).toBe(5)
    }))

  live("a serf that dies mid-work fails what it owed with SerfDied", () =>
    Effect.gen(function*() {
      const serf = yield* start(testSerf())
      const exit = yield* Effect.exit(serf.work({ op: "die" }))
      expect(Exit.isFailure(exit)).toBe(true)
      const e = yield* Effect.flip(serf.work({ n: 1 }))
      expect(e._tag).toBe("SerfNotRunning")
      expect((yield* serf.dead)._tag).toBe("SerfDied")
      expect((yield* serf.exited).code).toBe(9)
    }))

  live("a work answer that breaks the protocol reaches its caller as SerfProtocolError", () =>
    Effect.gen(function*() {
      const serf = yield* start({ command: node, args: [fixture("liar-serf.ts")], stopGrace: 100 })
      const e = yield* Effect.flip(serf.work({ n: 1 }))
      expect(e._tag).toBe("SerfProtocolError")
      expect(e.message).toContain("work-done for event 7, expected 1")
      expect((yield* serf.dead)._tag).toBe("SerfProtocolError")
    }))

  live("a protocol break kills the serf: SerfProtocolError", () =>
    Effect.gen(function*() {
      const serf = yield* start(testSerf())
      const e = yield* Effect.flip(serf.work({ op: "garbage" }))
      expect(["SerfProtocolError", "SerfDied"]).toContain(e._tag)
      expect((yield* serf.dead)._tag).toBe("SerfProtocolError")
      expect(serf.running()).toBe(false)
    }))

  live("no ripe within bootTimeout: SerfBootTimeout, and the serf is gone", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(start({ ...testSerf({ TEST_SERF_NORIPE: "1" }), bootTimeout: 300, stopGrace: 100 }))
      expect(e._tag).toBe("SerfBootTimeout")
    }))

  live("a serf of another protocol version is refused", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(start({ ...testSerf({ TEST_SERF_PRO: "2" }), stopGrace: 100 }))
      expect(e._tag).toBe("SerfIncompatible")
      expect(e.message).toContain("protocol 2")
    }))

  live("stop sends exit 0: the serf leaves Clean", () =>
    Effect.gen(function*() {
      const serf = yield* start(kvSerf)
      yield* serf.work({ op: "put", key: "a", value: 1 })
      const r = yield* serf.stop
      expect(r.toReport()).toMatchObject({ termination: "Clean", code: 0 })
      expect((yield* Effect.flip(serf.work({})))._tag).toBe("SerfNotRunning")
    }))
})
