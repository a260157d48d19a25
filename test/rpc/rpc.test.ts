/**
 * Effect RPC over supervised workers (SPEC §11): an `RpcGroup` called
 * through `RpcPool.Client`, served by a Node worker on `liege/worker/rpc`
 * and — the same calls, the same answers — by a Python worker on liege.py
 * that speaks the RPC messages itself (../worker/fixtures/rpc_worker.py,
 * docs/protocol.md §11). Unary and streaming calls, typed failures, headers,
 * the trace, two groups on two pools in one program; then, with the Node
 * worker: interruption (the handler is interrupted), liege's exec span, a
 * worker's death (that call alone fails), and the handlers' finalizers when
 * the pool stops the worker.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Queue, Stream, Tracer } from "effect"
import { RpcClient } from "effect/rpc"
import { DivisionByZero, Greeter, Maths } from "../../examples/rpc/maths.ts"
import * as RpcPool from "../../src/rpc/index.ts"
import { liveIn, quiet } from "../support/live.ts"
import { parentId, recording } from "../support/tracer.ts"
import { node, root, until } from "../support/procs.ts"

const worker = { command: node, args: [path.join(root, "examples/rpc/maths-worker.ts")] }
const pythonWorker = { command: "python3", args: [path.join(root, "test/worker/fixtures/rpc_worker.py")] }

/** A test in a fresh temporary folder (for the marks the handlers write), removed when it ends. */
const withDir = liveIn("liege-rpc-")

class TwoClient extends RpcPool.Client<TwoClient>()("test/Two", Maths, { ...worker, workers: 2 }) {}
/** One worker taking several calls at once. */
class OneClient extends RpcPool.Client<OneClient>()("test/One", Maths, { ...worker, workers: 1, maxInFlight: 4, credit: 4 }) {}

/** The defect a call died of. */
const defectOf = <A, E>(exit: Exit.Exit<A, E>): unknown =>
  Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

/** Polls `read` until it returns the same value `times` times in a row, `ms` apart; that value. */
const settled = <A>(read: Effect.Effect<A, unknown>, times = 5, ms = 100) =>
  Effect.gen(function*() {
    let last = yield* read
    for (let same = 0; same < times;) {
      yield* Effect.sleep(ms)
      const now = yield* read
      same = now === last ? same + 1 : 0
      last = now
    }
    return last
  })

for (const [language, served] of [["Node", worker], ["Python", pythonWorker]] as const) {
  describe(`an RPC group served by a ${language} worker`, () => {
    class MathsClient extends RpcPool.Client<MathsClient>()(`test/Maths/${language}`, Maths, { ...served, workers: 2 }) {}
    class StreamClient extends RpcPool.Client<StreamClient>()(`test/Stream/${language}`, Maths, { ...served, workers: 1, maxInFlight: 4, credit: 4 }) {}
    class GreeterClient extends RpcPool.Client<GreeterClient>()(`test/Greeter/${language}`, Greeter, { ...served, workers: 1 }) {}

    it.live("unary calls, typed failures, headers, the caller's span; two groups on two pools, side by side", () =>
      Effect.gen(function*() {
        const maths = yield* MathsClient
        const greeter = yield* GreeterClient
        expect(yield* maths.Add({ a: 20, b: 22 })).toBe(42)
        expect(yield* maths.Divide({ a: 1, b: 4 })).toBe(0.25)
        const failure = yield* Effect.flip(maths.Divide({ a: 7, b: 0 }))
        expect(failure).toBeInstanceOf(DivisionByZero)
        expect(failure).toMatchObject({ _tag: "DivisionByZero", dividend: 7 })
        expect(yield* greeter.Hello({ name: "ada" }).pipe(RpcClient.withHeaders({ "x-tenant": "t1" }))).toBe("hello ada from t1")
        // the handler's span is in the caller's trace, its parent the client's span of the call
        const { spans, tracer } = recording()
        const { caller, handler } = yield* Effect.gen(function*() {
          const caller = yield* Effect.orDie(Effect.currentSpan)
          return { caller, handler: yield* maths.Span() }
        }).pipe(Effect.withSpan("caller"), Effect.provideService(Tracer.Tracer, tracer))
        const call = spans.find((s) => s.name !== "caller")!
        expect(parentId(call)).toBe(caller.spanId)
        expect(handler).toEqual({ traceId: caller.traceId, parentSpanId: call.spanId })
        // two pools: the greeter's worker is none of the maths' workers
        const mathsPids = new Set<number>()
        for (let i = 0; i < 6; i++) mathsPids.add(yield* maths.Pid())
        expect(mathsPids.has(yield* greeter.Whoami())).toBe(false)
        // many calls at once, pipelined on two workers, each answered
        const sums = yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => maths.Add({ a: i, b: i }), { concurrency: "unbounded" })
        expect(sums).toEqual(Array.from({ length: 200 }, (_, i) => 2 * i))
      }).pipe(Effect.provide(Layer.mergeAll(MathsClient.layer, GreeterClient.layer)), Effect.provide(quiet)))

    withDir("a streaming call: its values in order; a slow caller slows the worker; leaving early ends the handler's stream", (dir) =>
      Effect.gen(function*() {
        const maths = yield* StreamClient
        const mark = path.join(dir, "ended")
        expect(yield* Stream.runCollect(maths.Count({ n: 5 }))).toEqual([1, 2, 3, 4, 5])
        // take 3 of a million, then wait: the worker has produced only what the credit and the buffers allow
        const produced = yield* Effect.scoped(Effect.gen(function*() {
          const queue = yield* maths.Count({ n: 1_000_000, mark }, { asQueue: true, streamBufferSize: 4 })
          for (let i = 1; i <= 3; i++) expect(yield* Queue.take(queue)).toBe(i)
          return yield* settled(maths.Produced())
        }))
        // the client's buffer (4), the pool's queue (credit + 1), the credit outstanding (4), the server's pull
        expect(produced).toBeLessThan(40)
        // leaving early ended the handler's stream (what was already granted may still come); the worker goes on
        yield* until(() => fs.existsSync(mark), 10_000, "the stream's end in the worker")
        expect(yield* settled(maths.Produced())).toBeLessThan(produced + 20)
        expect(yield* maths.Add({ a: 1, b: 1 })).toBe(2)
      }).pipe(Effect.provide(StreamClient.layer)))
  })
}

describe("an RPC group on liege/worker/rpc", () => {
  withDir("an interrupted call interrupts the handler in the worker, which goes on serving", (dir) =>
    Effect.gen(function*() {
      const maths = yield* OneClient
      const mark = path.join(dir, "interrupted")
      const pid = yield* maths.Pid()
      const sleeping = yield* Effect.forkChild(maths.Sleep({ ms: 60_000, mark }))
      const content = () => fs.existsSync(mark) ? fs.readFileSync(mark, "utf8") : ""
      yield* until(() => content() === "started", 10_000, "the handler's start")
      yield* Fiber.interrupt(sleeping)
      yield* until(() => content() === "interrupted", 10_000, "the handler's interruption")
      expect(yield* maths.Pid()).toBe(pid)
    }).pipe(Effect.provide(OneClient.layer)))

  it.live("with spans on the pool, the handler runs in liege's exec span, itself in the caller's trace", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      class Spanned extends RpcPool.Client<Spanned>()("test/Spanned", Maths, { ...worker, workers: 1, spans: true }) {}
      const { caller, handler } = yield* Effect.gen(function*() {
        const maths = yield* Spanned
        const caller = yield* Effect.orDie(Effect.currentSpan)
        return { caller, handler: yield* maths.Span() }
      }).pipe(Effect.withSpan("caller"), Effect.provide(Spanned.layer), Effect.provideService(Tracer.Tracer, tracer))
      const exec = spans.find((s) => s.name === "exec")!
      expect(exec.traceId).toBe(caller.traceId)
      expect(handler).toEqual({ traceId: caller.traceId, parentSpanId: exec.spanId })
    }).pipe(Effect.scoped, Effect.provide(quiet)))

  withDir("a worker that dies fails its own call alone (WorkerDied); the pool replaces it", (dir) =>
    Effect.gen(function*() {
      const maths = yield* TwoClient
      // one worker sleeps (one call at a time each: the crash goes to the other one), the other crashes
      const mark = path.join(dir, "sleeping")
      const sleeping = yield* Effect.forkChild(maths.Sleep({ ms: 1_500, mark }))
      yield* until(() => fs.existsSync(mark), 10_000, "the sleep's start")
      const crashed = yield* Effect.exit(maths.Crash())
      const defect = defectOf(crashed)
      expect(defect).toBeInstanceOf(Error)
      expect(defect).toMatchObject({ name: "WorkerDied", message: expect.stringContaining("SIGKILL") })
      expect(Exit.isSuccess(yield* Fiber.await(sleeping))).toBe(true)
      expect(fs.readFileSync(mark, "utf8")).toBe("started")
      expect(yield* maths.Add({ a: 2, b: 3 })).toBe(5)
    }).pipe(Effect.provide(TwoClient.layer)))

  withDir("stopping the pool runs the handlers' finalizers in the worker (stdin ends, the server is interrupted)", (dir) =>
    Effect.gen(function*() {
      const mark = path.join(dir, "finalized")
      class Marked extends RpcPool.Client<Marked>()("test/Marked", Maths, { ...worker, workers: 1, env: { MATHS_FINALIZED: mark } }) {}
      yield* Effect.scoped(Effect.gen(function*() {
        expect(yield* (yield* Marked).Add({ a: 1, b: 2 })).toBe(3)
      }).pipe(Effect.provide(Marked.layer)))
      expect(fs.readFileSync(mark, "utf8")).toBe("finalized")
    }))

  it.live("by hand: RpcClient.make over RpcPool.layerProtocol (every call streamed, the group unknown to the protocol)", () =>
    Effect.gen(function*() {
      const maths = yield* RpcClient.make(Maths)
      expect(yield* maths.Add({ a: 2, b: 40 })).toBe(42)
      expect(yield* Effect.flip(maths.Divide({ a: 1, b: 0 }))).toMatchObject({ _tag: "DivisionByZero", dividend: 1 })
      expect(yield* Stream.runCollect(maths.Count({ n: 3 }))).toEqual([1, 2, 3])
    }).pipe(Effect.scoped, Effect.provide(RpcPool.layerProtocol({ ...worker, workers: 1 })), Effect.provide(quiet)))

  it.live("a layer whose worker cannot be spawned fails at once with SpawnFailed", () =>
    Effect.gen(function*() {
      class Missing extends RpcPool.Client<Missing>()("test/Missing", Maths, { command: "/no/such/worker" }) {}
      expect(yield* Effect.flip(Layer.build(Missing.layer))).toMatchObject({ _tag: "SpawnFailed", code: "ENOENT" })
    }).pipe(Effect.scoped, Effect.provide(quiet)))
})
