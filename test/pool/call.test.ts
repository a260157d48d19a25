/**
 * `Pool.call`: `submit` without a fiber, as the HTTP front uses it — one
 * answer through the callback, a cancel that lets the worker go, a refusal
 * at once; the payload's JSON text, when given, written as it is (json) and
 * the value otherwise (msgpack); the caller's traceparent sent as `trace`.
 */
import { describe, expect } from "@effect/vitest"
import { Effect } from "effect"
import { type Answer, make } from "../../src/pool/pool.ts"
import { live } from "../support/live.ts"
import { nodeWorker, readyWorkers } from "../support/pools.ts"

/** `pool.call` as an Effect that waits for its one answer, and how many answers came. */
const called = (pool: Effect.Success<ReturnType<typeof make>>, payload: unknown, options?: Parameters<typeof pool.call>[2]) =>
  Effect.callback<{ readonly answer: Answer; readonly count: () => number }>((resume) => {
    let count = 0
    const sent = pool.call(payload, (answer) => {
      count++
      resume(Effect.succeed({ answer, count: () => count }))
    }, options)
    if (typeof sent !== "function") resume(Effect.succeed({ answer: sent, count: () => count }))
  })

describe("Pool.call", () => {
  live("one answer through the callback: the worker's value, or its refusal; the traceparent goes as trace", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...nodeWorker, workers: 1 })
      const ok = yield* called(pool, { op: "add", a: 20, b: 22 })
      expect(ok.answer).toEqual({ ok: 42 })
      const refused = yield* called(pool, { op: "fail", code: "nope", message: "refused" })
      expect(refused.answer).toMatchObject({ _tag: "Application", code: "nope", message: "refused" })
      const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      expect((yield* called(pool, { op: "trace" }, { traceparent })).answer).toEqual({ ok: traceparent })
      // nothing more came for the first two (answers come in order: a second one would be here by now)
      expect([ok.count(), refused.count()]).toEqual([1, 1])
    }))

  live("the payload's JSON text, when given, is what a json worker gets; a msgpack worker gets the value", () =>
    Effect.gen(function*() {
      const json = yield* make({ ...nodeWorker, workers: 1 })
      const text = `{"op":"echo","value":{"as":"written"}}`
      expect((yield* called(json, { op: "echo", value: "parsed" }, { text })).answer).toEqual({ ok: { as: "written" } })
      const msgpack = yield* make({ ...nodeWorker, workers: 1, codec: "msgpack" })
      expect((yield* called(msgpack, { op: "echo", value: "parsed" }, { text })).answer).toEqual({ ok: "parsed" })
    }))

  live("cancelled: no answer comes, the worker lets go of it and serves the next; a closed pool refuses at once", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...nodeWorker, workers: 1 })
      yield* readyWorkers(pool, 1)
      let answers = 0
      const cancel = pool.call({ op: "sleep", ms: 30_000 }, () => answers++)
      expect(typeof cancel).toBe("function")
      ;(cancel as () => void)()
      const next = yield* called(pool, { op: "echo", value: "next" })
      expect(next.answer).toEqual({ ok: "next" })
      expect(answers).toBe(0)
      yield* pool.shutdown(1000)
      const refused = pool.call({ op: "echo", value: 1 }, () => answers++)
      expect(refused).toMatchObject({ _tag: "ShuttingDown" })
      expect(answers).toBe(0)
    }))
})
