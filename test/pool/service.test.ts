/**
 * Pools as an Effect program uses them (SPEC §11): two pools, each its own
 * service, in one program; `submit` typed by Schemas; a layer that fails at
 * once when no worker will ever be ready.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as Pool from "../../src/pool/index.ts"
import { quiet } from "../support/live.ts"
import { faulty, nodeWorker } from "../support/pools.ts"

class Adder extends Pool.Service<Adder>()("test/Adder", {
  ...nodeWorker,
  workers: 1,
  request: Schema.Struct({ op: Schema.Literal("add"), a: Schema.Number, b: Schema.Number }),
  response: Schema.Number
}) {}

class Echo extends Pool.Service<Echo>()("test/Echo", { ...nodeWorker, workers: 1 }) {}

describe("pools as services", () => {
  it.live("two pools, two services, two sets of workers, in one program; submit typed by Schemas", () =>
    Effect.gen(function*() {
      const adder = yield* Adder
      const echo = yield* Echo
      // typed: the request's type in, the response's out
      const sum: number = yield* adder.submit({ op: "add", a: 20, b: 22 })
      expect(sum).toBe(42)
      expect(yield* echo.submit({ op: "echo", value: "hi" })).toBe("hi")
      expect(adder.pids()).toHaveLength(1)
      expect(echo.pids()).toHaveLength(1)
      expect(adder.pids()[0]).not.toBe(echo.pids()[0])
      // a request that does not fit its Schema is refused before anything is sent
      const refused = yield* Effect.flip(adder.submit({ op: "add", a: 1, b: "two" } as never))
      expect(refused._tag).toBe("SchemaError")
      expect(adder.view().answers.total).toBe(1)
    }).pipe(Effect.provide(Layer.mergeAll(Adder.layer, Echo.layer)), Effect.provide(quiet)))

  it.live("an answer that does not fit the response Schema is a SchemaError", () =>
    Effect.gen(function*() {
      const pool = yield* Pool.make({ ...nodeWorker, workers: 1, request: Schema.Unknown, response: Schema.Number })
      const error = yield* Effect.flip(pool.submit({ op: "echo", value: "not a number" }))
      expect(error._tag).toBe("SchemaError")
    }).pipe(Effect.scoped, Effect.provide(quiet)))

  it.live("an error Schema types the worker's refusals it fits; the others stay Application errors", () =>
    Effect.gen(function*() {
      const NotFound = Schema.Struct({ code: Schema.Literal("not_found"), message: Schema.String })
      const pool = yield* Pool.make({ ...nodeWorker, workers: 1, request: Schema.Unknown, response: Schema.Unknown, error: NotFound })
      const typed = yield* Effect.flip(pool.submit({ op: "fail", code: "not_found", message: "no such key" }))
      expect(typed).toEqual({ code: "not_found", message: "no such key" })
      const other = yield* Effect.flip(pool.submit({ op: "fail", code: "bad", message: "what" }))
      expect(other).toMatchObject({ _tag: "Application", code: "bad", message: "what" })
    }).pipe(Effect.scoped, Effect.provide(quiet)))

  it.live("a layer fails at once, saying why, when no worker will be ready: a command that does not exist", () =>
    Effect.gen(function*() {
      class Missing extends Pool.Service<Missing>()("test/Missing", { command: "/no/such/command", workers: 2 }) {}
      const started = Date.now()
      const error = yield* Effect.flip(Layer.build(Missing.layer))
      expect(error).toMatchObject({ _tag: "SpawnFailed", code: "ENOENT" })
      expect(Date.now() - started).toBeLessThan(5_000)
    }).pipe(Effect.scoped, Effect.provide(quiet)))

  it.live("… or a pool that fails before any worker is ready", () =>
    Effect.gen(function*() {
      class Never extends Pool.Service<Never>()("test/Never", {
        ...faulty({ FAULTY_NO_READY: "1" }),
        workers: 1,
        bootTimeout: "100 millis",
        maxRestarts: 0,
        grace: "100 millis"
      }) {}
      const error = yield* Effect.flip(Layer.build(Never.layer))
      expect(error).toMatchObject({ _tag: "PoolFailed", reason: expect.stringContaining("no ready within 100 ms") })
    }).pipe(Effect.scoped, Effect.provide(quiet)))
})
