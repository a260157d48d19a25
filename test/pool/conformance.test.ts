/**
 * The example pool worker, in Node and in Python, driven through the pool:
 * the same payloads get the same answers, in both codecs, pipelined or not.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Stream } from "effect"
import { make } from "../../src/pool/pool.ts"
import { captureLogs } from "../support/logs.ts"
import { nodeWorker, pythonWorker, readyWorkers } from "../support/pools.ts"
import { until } from "../support/procs.ts"

const script: ReadonlyArray<unknown> = [
  { op: "echo", value: { a: [1, 2, { b: null }], s: "é ✓" } },
  { op: "echo", value: null },
  { op: "add", a: 2, b: 40.5 },
  { op: "sleep", ms: 20 },
  { op: "fail", code: "E_NOPE", message: "refused" },
  { op: "echo" },
  { op: "add", a: "x", b: 1 },
  { op: "nonsense" },
  "not an object",
  { op: "env" },
  { op: "slog", text: "hello from the worker" },
  { op: "stderr", text: "a line on stderr" },
  { op: "count", n: 3 },
  { op: "count", n: -1 }
]

const outcome = (exit: Exit.Exit<unknown, { _tag: string; code?: string }>) =>
  Exit.isSuccess(exit) ? { ok: exit.value } : { err: (exit.cause.reasons[0] as any).error?.code ?? (exit.cause.reasons[0] as any).error?._tag }

describe("pool conformance: the example worker in Node and Python", () => {
  for (const codec of ["json", "msgpack"] as const) {
    for (const maxInFlight of [1, 4]) {
      it.live(`both workers answer alike (${codec}, maxInFlight ${maxInFlight})`, () => {
        const logs = captureLogs()
        return Effect.gen(function*() {
          const results = yield* Effect.forEach([nodeWorker, pythonWorker], (worker) =>
            Effect.scoped(Effect.gen(function*() {
              const pool = yield* make({ ...worker, workers: 1, maxInFlight, codec })
              const answers = yield* Effect.forEach(script, (p) => Effect.exit(pool.submit(p)).pipe(Effect.map(outcome)), {
                concurrency: maxInFlight
              })
              // a streaming answer: the same chunks, then the same value
              const streamed = yield* Stream.runCollect(pool.stream({ op: "count", n: 5 }, { credit: 2 }))
              // a cancelled sleep: the worker lets go and keeps serving
              const sleeping = yield* Effect.forkChild(pool.submit({ op: "sleep", ms: 10_000 }))
              yield* until(() => pool.view().inFlight === 1)
              yield* Fiber.interrupt(sleeping)
              const pid = yield* pool.submit({ op: "pid" })
              const again = yield* pool.submit({ op: "pid" })
              expect(again).toBe(pid)
              const died = yield* Effect.flip(pool.submit({ op: "exit", code: 3 }))
              expect(died._tag).toBe("WorkerDied")
              yield* readyWorkers(pool, 1)
              expect(yield* pool.submit({ op: "add", a: 1, b: 1 })).toBe(2)
              return [...answers, streamed]
            })))
          const [node, python] = results
          expect(python).toEqual(node)
          expect(node![0]).toEqual({ ok: { a: [1, 2, { b: null }], s: "é ✓" } })
          expect(node![2]).toEqual({ ok: 42.5 })
          expect(node![3]).toEqual({ ok: { slept: 20 } })
          expect(node![4]).toEqual({ err: "E_NOPE" })
          expect(node!.slice(5, 9)).toEqual(Array(4).fill({ err: "bad_request" }))
          expect(node![9]).toEqual({ ok: { id: "1", codec, protocol: "1", generation: "1" } })
          expect(node![12]).toEqual({ ok: [{ i: 1 }, { i: 2 }, { i: 3 }] })
          expect(node![13]).toEqual({ err: "bad_request" })
          expect(node![14]).toEqual([...[1, 2, 3, 4, 5].map((i) => ({ _tag: "Chunk", data: { i } })), { _tag: "Done", value: { counted: 5 } }])
          expect(logs.lines.filter((l) => l.message === "hello from the worker")).toHaveLength(2)
          expect(logs.lines.filter((l) => l.message === "stderr: a line on stderr")).toHaveLength(2)
        }).pipe(Effect.provide(logs.layer))
      })
    }
  }
})
