/**
 * Trace context through the library's pool (SPEC §1, §8 Tracing): `submit`
 * and `stream` inside a span send that span's context as `trace`; with
 * `spans`, the pool records the wait in the queue and the worker's exec as
 * children of the caller's span, and the worker's part runs in the exec.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Stream, Tracer } from "effect"
import * as Pool from "../../src/pool/index.ts"
import { quiet } from "../support/live.ts"
import { nodeWorker } from "../support/pools.ts"
import { fixture, node } from "../support/procs.ts"
import { parentId, recording } from "../support/tracer.ts"

const worker = { command: node, args: [fixture("trace-worker.ts")], workers: 1 }

describe("trace context through a pool", () => {
  it.live("outside a span no trace is sent; inside one, its context, as a W3C traceparent", () =>
    Effect.gen(function*() {
      const pool = yield* Pool.make(worker)
      expect(yield* pool.submit(1)).toBeNull()
      const { answer, span } = yield* Effect.gen(function*() {
        return { answer: yield* pool.submit(1), span: yield* Effect.orDie(Effect.currentSpan) }
      }).pipe(Effect.withSpan("caller"))
      expect(answer).toBe(`00-${span.traceId}-${span.spanId}-01`)
      // a span made up by hand, whose ids are not W3C ids, is not sent
      const madeUp = Tracer.externalSpan({ traceId: "trace-1", spanId: "span-1" })
      expect(yield* pool.submit(1).pipe(Effect.withParentSpan(madeUp))).toBeNull()
      // an unsampled one is sent unsampled
      const unsampled = Tracer.externalSpan({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: false })
      expect(yield* pool.submit(1).pipe(Effect.withParentSpan(unsampled))).toBe("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
    }).pipe(Effect.scoped, Effect.provide(quiet)))

  it.live("with spans: queue and exec are the caller's children, the worker runs in the exec span; msgpack alike", () =>
    Effect.gen(function*() {
      for (const codec of ["json", "msgpack"] as const) {
        const { spans, tracer } = recording()
        const { answers, caller } = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* Pool.make({ ...worker, codec, spans: true, maxInFlight: 1 })
          return yield* Effect.gen(function*() {
            const caller = yield* Effect.orDie(Effect.currentSpan)
            // three at once on one worker taking one at a time: two of them wait in the queue
            const answers = yield* Effect.all([pool.submit(1), pool.submit(2), pool.submit(3)], { concurrency: "unbounded" })
            return { answers, caller }
          }).pipe(Effect.withSpan("caller"))
        })).pipe(Effect.provideService(Tracer.Tracer, tracer))
        const execs = spans.filter((s) => s.name === "exec")
        const queues = spans.filter((s) => s.name === "queue")
        expect(execs).toHaveLength(3)
        expect(queues).toHaveLength(3)
        for (const s of [...execs, ...queues]) {
          expect(s.traceId).toBe(caller.traceId)
          expect(parentId(s)).toBe(caller.spanId)
          expect(s.status._tag).toBe("Ended")
        }
        // each worker's part ran in its own exec span
        expect((answers as Array<string>).sort()).toEqual(execs.map((s) => `00-${s.traceId}-${s.spanId}-01`).sort())
        // first in, first out on one worker: each queue span ends before its own exec starts
        const byStart = (a: Tracer.NativeSpan, b: Tracer.NativeSpan) => Number(a.status.startTime - b.status.startTime)
        queues.sort(byStart)
        execs.sort(byStart)
        queues.forEach((q, i) => {
          expect(q.status._tag === "Ended" && q.status.endTime <= execs[i]!.status.startTime).toBe(true)
        })
      }
    }).pipe(Effect.provide(quiet)))

  it.live("with spans: a request its caller leaves, or one refused Busy, ends its spans too", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const pool = yield* Pool.make({ ...nodeWorker, workers: 1, spans: true, maxInFlight: 1, maxQueue: 1 })
      yield* pool.whenReady
      yield* Effect.gen(function*() {
        // a request sent, one queued, one refused: the queue holds one
        const sent = yield* Effect.forkChild(pool.submit({ op: "sleep", ms: 60_000 }))
        const queued = yield* Effect.forkChild(pool.submit({ op: "echo", value: 2 }))
        yield* Effect.yieldNow
        expect(yield* Effect.flip(pool.submit(3))).toMatchObject({ _tag: "Busy" })
        yield* Fiber.interrupt(queued)
        yield* Fiber.interrupt(sent)
      }).pipe(Effect.withSpan("caller"), Effect.provideService(Tracer.Tracer, tracer))
      const mine = spans.filter((s) => s.name === "queue" || s.name === "exec")
      expect(mine.map((s) => s.name).sort()).toEqual(["exec", "queue", "queue", "queue"])
      for (const s of mine) expect(s.status._tag).toBe("Ended")
      const exits = mine.map((s) => s.status._tag === "Ended" ? s.status.exit : undefined)
      expect(exits.filter((e) => e !== undefined && Exit.hasInterrupts(e))).toHaveLength(2)
    }).pipe(Effect.scoped, Effect.provide(quiet)))

  it.live("a credit that is not a whole number of chunks is refused at the edge", () =>
    Effect.gen(function*() {
      const pool = yield* Pool.make(worker)
      const exit = yield* Effect.exit(Stream.runDrain(pool.stream(1, { credit: 2.5 })))
      expect(exit._tag === "Failure" && Cause.squash(exit.cause)).toMatchObject({ _tag: "InvalidOptions", field: "credit" })
    }).pipe(Effect.scoped, Effect.provide(quiet)))

  it.live("a stream inside a span sends its context too", () =>
    Effect.gen(function*() {
      const pool = yield* Pool.make(worker)
      const { parts, span } = yield* Effect.gen(function*() {
        return { parts: yield* Stream.runCollect(pool.stream(1)), span: yield* Effect.orDie(Effect.currentSpan) }
      }).pipe(Effect.withSpan("caller"))
      expect(parts).toEqual([{ _tag: "Done", value: `00-${span.traceId}-${span.spanId}-01` }])
    }).pipe(Effect.scoped, Effect.provide(quiet)))
})
