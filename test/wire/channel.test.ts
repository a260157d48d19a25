import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Schema, Stream } from "effect"
import { spawn } from "../../src/supervisor/child.ts"
import { open } from "../../src/wire/channel.ts"
import { codecNames } from "../../src/wire/codec.ts"
import { captureLogs } from "../support/logs.ts"
import { fixture, node } from "../support/procs.ts"

const Pong = Schema.Struct({ t: Schema.Literal("pong"), n: Schema.Number })
const Order = Schema.Struct({
  t: Schema.String,
  n: Schema.optional(Schema.Number),
  text: Schema.optional(Schema.String),
  pri: Schema.optional(Schema.Literals([0, 1, 2, 3]))
})

const worker = (codec: "json" | "msgpack" = "json") =>
  spawn({
    command: node,
    args: [fixture("echo-worker.ts")],
    env: { LIEGE_CODEC: codec },
    stdout: "pipe",
    grace: 2000,
    annotations: { worker: 1 }
  })

describe("wire channel over a real worker", () => {
  for (const codec of codecNames) {
    it.live(`sends and receives typed messages (${codec})`, () =>
      Effect.gen(function*() {
        const child = yield* worker(codec)
        const ch = yield* open(child, { incoming: Pong, outgoing: Order, codec })
        for (let n = 0; n < 100; n++) yield* ch.send({ t: "ping", n })
        const got = yield* ch.messages.pipe(Stream.take(100), Stream.runCollect)
        expect(got.map((m) => m.n)).toEqual(Array.from({ length: 100 }, (_, i) => i))
      }).pipe(Effect.scoped))
  }

  for (const codec of codecNames) {
    it.live(`a message that cannot travel exactly fails send with NotEncodable; nothing is sent (${codec})`, () =>
      Effect.gen(function*() {
        const child = yield* worker(codec)
        const ch = yield* open(child, { incoming: Pong, outgoing: Order, codec })
        for (const bad of [{ t: "ping", n: NaN }, { t: "ping", n: 1, text: "\ud800" }]) {
          const error = yield* Effect.flip(ch.send(bad))
          expect(error._tag).toBe("NotEncodable")
          expect(error.message).toMatch(/not a finite number|lone surrogate/)
        }
        // the channel is unharmed, and the worker saw none of them
        yield* ch.send({ t: "ping", n: 7 })
        const got = yield* ch.messages.pipe(Stream.take(1), Stream.runCollect)
        expect(got.map((m) => m.n)).toEqual([7])
      }).pipe(Effect.scoped))
  }

  it.live("slog goes to the logger with the worker's pid, never into the stream", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const child = yield* worker()
      const ch = yield* open(child, { incoming: Pong, outgoing: Order })
      yield* ch.send({ t: "log", n: 1, text: "hello from the worker" })
      yield* ch.send({ t: "stderr", n: 2, text: "a line on stderr" })
      yield* ch.send({ t: "ping", n: 3 })
      const got = yield* ch.messages.pipe(Stream.take(3), Stream.runCollect)
      expect(got.map((m) => m.n)).toEqual([1, 2, 3])
      yield* child.stop
      const slog = logs.lines.find((l) => l.message === "hello from the worker")
      expect(slog?.level).toBe("WARN")
      expect(slog?.annotations).toMatchObject({ pid: child.pid, worker: 1 })
      const err = logs.lines.find((l) => l.message === "stderr: a line on stderr")
      expect(err?.annotations).toMatchObject({ pid: child.pid })
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  it.live("slog priorities: 0 and 1 log at Info, 2 at Warning, 3 at Error", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const child = yield* worker()
      const ch = yield* open(child, { incoming: Pong, outgoing: Order })
      for (const pri of [0, 1, 2, 3] as const) yield* ch.send({ t: "log", n: pri, text: `pri ${pri}`, pri })
      yield* ch.messages.pipe(Stream.take(4), Stream.runDrain)
      yield* child.stop
      const levels = [0, 1, 2, 3].map((pri) => logs.lines.find((l) => l.message === `pri ${pri}`)?.level)
      expect(levels).toEqual(["INFO", "INFO", "WARN", "ERROR"])
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  const failsWith = (order: string, tag: string, check?: (e: any) => void) =>
    it.live(`${order}: the stream fails with ${tag}`, () =>
      Effect.gen(function*() {
        const child = yield* worker()
        const ch = yield* open(child, { incoming: Pong, outgoing: Order, maxFrameBytes: 1 << 20 })
        yield* ch.send({ t: order })
        const exit = yield* Effect.exit(Stream.runDrain(ch.messages))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? (exit.cause.reasons[0] as any).error : undefined
        expect(error?._tag).toBe(tag)
        check?.(error)
      }).pipe(Effect.scoped))

  failsWith("junk", "BadMessage", (e) => {
    expect(Buffer.from(e.bytes).toString()).toBe("{{{")
    expect(e.message).toContain("not JSON")
  })
  failsWith("huge", "FrameTooLarge", (e) => expect(e.length).toBe(2 ** 32))
  failsWith("cut", "ConnectionClosed", (e) => expect(e.pending).toBe(11))
  failsWith("wrong", "BadMessage", (e) => expect(Buffer.from(e.bytes).toString()).toContain("not a number"))

  it.live("the stream ends when the worker exits; send then fails with ConnectionClosed", () =>
    Effect.gen(function*() {
      const child = yield* worker()
      const ch = yield* open(child, { incoming: Pong, outgoing: Order })
      yield* ch.send({ t: "exit", code: 0 } as never)
      expect(yield* Stream.runCollect(ch.messages)).toEqual([])
      const result = yield* child.result
      expect(result.termination).toBe("Clean")
      yield* ch.end
      const sent = yield* Effect.flip(ch.send({ t: "ping", n: 1 }))
      expect(sent._tag).toBe("ConnectionClosed")
    }).pipe(Effect.scoped))
})
