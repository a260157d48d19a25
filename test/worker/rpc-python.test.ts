/**
 * Effect RPC over liege from the worker's side, in another language (SPEC
 * §11; docs/protocol.md §11): a Python worker on liege.py that speaks the RPC
 * messages itself (fixtures/rpc_worker.py) serves `RpcPool.Client` calls —
 * the Request message as the payload, Chunk messages as the chunks within
 * the pool's credit, the Exit message as the answer, a typed failure as a
 * `Fail` cause, headers and the caller's span in the Request.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Queue, Stream } from "effect"
import { RpcClient } from "effect/rpc"
import { DivisionByZero, Greeter, Maths } from "../../examples/rpc/maths.ts"
import * as RpcPool from "../../src/rpc/index.ts"
import { quiet } from "../support/live.ts"
import { root, until } from "../support/procs.ts"
import { tempDir } from "../support/serfs.ts"

const worker = { command: "python3", args: [path.join(root, "test/worker/fixtures/rpc_worker.py")] }

class PyMaths extends RpcPool.Client<PyMaths>()("test/PyMaths", Maths, { ...worker, workers: 1, maxInFlight: 4, credit: 4 }) {}
class PyGreeter extends RpcPool.Client<PyGreeter>()("test/PyGreeter", Greeter, { ...worker, workers: 1 }) {}

/** Polls `read` until it gives the same value `times` times in a row, `ms` apart; that value. */
const settled = <A>(read: Effect.Effect<A, unknown>, times = 4, ms = 50) =>
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

describe("an RPC group served by a Python worker speaking the RPC messages", () => {
  it.live("unary calls, a typed failure, headers, the caller's span", () =>
    Effect.gen(function*() {
      const maths = yield* PyMaths
      const greeter = yield* PyGreeter
      expect(yield* maths.Add({ a: 20, b: 22 })).toBe(42)
      expect(yield* maths.Divide({ a: 1, b: 4 })).toBe(0.25)
      const failure = yield* Effect.flip(maths.Divide({ a: 7, b: 0 }))
      expect(failure).toBeInstanceOf(DivisionByZero)
      expect(failure).toMatchObject({ _tag: "DivisionByZero", dividend: 7 })
      expect(yield* greeter.Hello({ name: "ada" }).pipe(RpcClient.withHeaders({ "x-tenant": "t1" }))).toBe("hello ada from t1")
      const { caller, handler } = yield* Effect.gen(function*() {
        const caller = yield* Effect.orDie(Effect.currentSpan)
        return { caller, handler: yield* maths.Span() }
      }).pipe(Effect.withSpan("caller"))
      expect(handler.traceId).toBe(caller.traceId)
      expect(handler.parentSpanId).toMatch(/^[0-9a-f]{16}$/)
      // pipelined calls on one worker, each answered
      const sums = yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) => maths.Add({ a: i, b: 1 }), { concurrency: 8 })
      expect(sums).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    }).pipe(Effect.provide(Layer.mergeAll(PyMaths.layer, PyGreeter.layer)), Effect.provide(quiet)))

  it.live("a streaming call: Chunk messages in order; a slow caller slows the generator; leaving early closes it", () =>
    Effect.gen(function*() {
      const maths = yield* PyMaths
      const dir = tempDir("liege-rpc-py-")
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const mark = path.join(dir, "ended")
      expect(yield* Stream.runCollect(maths.Count({ n: 5 }))).toEqual([1, 2, 3, 4, 5])
      const produced = yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* maths.Count({ n: 1_000_000, mark }, { asQueue: true, streamBufferSize: 4 })
        for (let i = 1; i <= 3; i++) expect(yield* Queue.take(queue)).toBe(i)
        return yield* settled(maths.Produced())
      }))
      // the generator ran only as far as the credit and the buffers let it
      expect(produced).toBeGreaterThanOrEqual(3)
      expect(produced).toBeLessThan(40)
      // the call was cancelled: the generator is closed, the worker serves on
      yield* until(() => fs.existsSync(mark), 10_000, "the generator's close")
      expect(yield* settled(maths.Produced())).toBeLessThan(produced + 20)
      expect(yield* maths.Add({ a: 1, b: 1 })).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(PyMaths.layer), Effect.provide(quiet)))
})
