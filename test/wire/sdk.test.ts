/**
 * The worker SDKs on their own — `src/worker` for Node, `examples/python/liege.py`
 * for Python — spoken to frame by frame as the host speaks, in both codecs:
 *
 * - heartbeat (SPEC §1): a `ping` is answered `pong` with the same `n` by a
 *   pool worker and by a serf, in both languages, while idle; and while a
 *   request waits (on a Node promise, on a Python `after` timer) the pong
 *   comes at once, before that request's answer. The SDK
 *   answers pings on its own: they never reach the worker's code (unless it
 *   turns that off on the bare wire);
 * - a message the SDK does not know is still only logged (pri 3), and the
 *   worker goes on;
 * - a pool handler that crashes — at once, or later from a promise or an
 *   `after` callback — and an answer that cannot be encoded are answered
 *   `err` code `internal` (what the host answers HTTP 500).
 *
 * The workers are the shipped examples (examples/pool-worker.ts,
 * examples/kv-serf.ts and their Python twins) and two bare-wire fixtures.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Schema, Stream } from "effect"
import * as path from "node:path"
import { spawn } from "../../src/supervisor/child.ts"
import { open } from "../../src/wire/channel.ts"
import { type CodecName, codecNames } from "../../src/wire/codec.ts"
import { captureLogs } from "../support/logs.ts"
import { fixture, node, root } from "../support/procs.ts"

const python = "/usr/bin/python3"

interface Program {
  readonly command: string
  readonly args: ReadonlyArray<string>
}

const programs = {
  node: {
    pool: { command: node, args: [path.join(root, "examples/pool-worker.ts")] },
    serf: { command: node, args: [path.join(root, "examples/kv-serf.ts")] },
    bare: { command: node, args: [fixture("by-hand-worker.ts")] }
  },
  python: {
    pool: { command: python, args: [path.join(root, "examples/python/pool_worker.py")] },
    serf: { command: python, args: [path.join(root, "examples/python/kv_serf.py")] },
    bare: { command: python, args: [path.join(root, "test/wire/fixtures/by_hand.py")] }
  }
} satisfies Record<string, Record<string, Program>>

const languages = ["node", "python"] as const

/** Any message from a worker, with the fields these tests look at. */
const Message = Schema.Struct({
  t: Schema.String,
  n: Schema.optional(Schema.Unknown),
  id: Schema.optional(Schema.Number),
  ok: Schema.optional(Schema.Unknown),
  err: Schema.optional(Schema.Struct({ code: Schema.String, message: Schema.String })),
  eve: Schema.optional(Schema.Number),
  dat: Schema.optional(Schema.Unknown),
  what: Schema.optional(Schema.Unknown)
})
type Message = typeof Message.Type

/** A worker spoken to frame by frame: `next` is its next message (a test fails, not hangs, without one). */
const talk = (program: Program, codec: CodecName, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const child = yield* spawn({
      command: program.command,
      args: [...program.args],
      env: { LIEGE_CODEC: codec, LIEGE_PROTOCOL: "1", LIEGE_WORKER_ID: "1", ...env },
      stdout: "pipe",
      grace: 2000,
      annotations: { worker: 1 }
    })
    const ch = yield* open(child, { incoming: Message, codec })
    // one pull for the whole talk: messages that arrive together are kept for the next `next`
    const pull = yield* Stream.toPull(ch.messages)
    const buffered: Array<Message> = []
    const next = (waitingFor: string): Effect.Effect<Message> =>
      Effect.suspend(() => {
        const ready = buffered.shift()
        if (ready !== undefined) return Effect.succeed(ready)
        return pull.pipe(
          Effect.map((chunk) => {
            buffered.push(...chunk)
            return buffered.shift()!
          }),
          Effect.mapError((e) => new Error(`${Cause.isDone(e) ? "the worker closed its stdout" : String(e)}; expected ${waitingFor}`)),
          Effect.orDie,
          Effect.timeoutOrElse({
            duration: "10 seconds",
            orElse: () => Effect.die(new Error(`no message from the worker within 10 s; expected ${waitingFor}`))
          })
        )
      })
    return { send: (m: unknown) => Effect.orDie(ch.send(m)), next, child }
  })

/** Sends a ping and expects its pong as the very next message. */
const pingPong = (w: Effect.Success<ReturnType<typeof talk>>, n: number) =>
  Effect.gen(function*() {
    yield* w.send({ t: "ping", n })
    const pong = yield* w.next(`pong ${n}`)
    expect(pong).toStrictEqual({ t: "pong", n })
  })

const unknownLogged = (lines: ReturnType<typeof captureLogs>["lines"], what: string) =>
  expect(lines.filter((l) => l.level === "ERROR" && l.message.startsWith(what))).toHaveLength(1)

describe("heartbeat: the SDKs answer the host's pings", () => {
  for (const language of languages) {
    for (const codec of codecNames) {
      it.live(`${language} pool worker: pong with the same n while idle, and before a waiting request's answer (${codec})`, () => {
        const logs = captureLogs()
        return Effect.gen(function*() {
          const w = yield* talk(programs[language].pool, codec)
          expect((yield* w.next("ready")).t).toBe("ready")
          yield* pingPong(w, 1)
          yield* pingPong(w, 9007199254740991)
          // a request still waits (a promise, an `after` timer): the ping is answered meanwhile
          yield* w.send({ t: "req", id: 5, payload: { op: "sleep", ms: 60_000 } })
          yield* pingPong(w, 2)
          yield* w.send({ t: "cancel", id: 5 })
          expect(yield* w.next("the cancelled request's answer")).toMatchObject({ t: "res", id: 5, err: { code: "cancelled" } })
          yield* pingPong(w, 3)
          // a message it does not know is logged and nothing else, as before
          yield* w.send({ t: "nonsense", n: 4 })
          yield* pingPong(w, 5)
          yield* w.send({ t: "req", id: 7, payload: { op: "add", a: 1, b: 2 } })
          expect(yield* w.next("the answer to request 7")).toMatchObject({ t: "res", id: 7, ok: 3 })
          yield* w.child.stop
          unknownLogged(logs.lines, "unknown message")
        }).pipe(Effect.scoped, Effect.provide(logs.layer))
      })

      it.live(`${language} serf: pong with the same n after ripe and between writs (${codec})`, () => {
        const logs = captureLogs()
        return Effect.gen(function*() {
          const w = yield* talk(programs[language].serf, codec)
          expect((yield* w.next("ripe")).t).toBe("ripe")
          yield* pingPong(w, 1)
          yield* w.send({ t: "play", eve: 1, events: [{ wen: 1700000000000, ev: { op: "put", key: "a", value: 1 } }] })
          expect((yield* w.next("play-done")).t).toBe("play-done")
          yield* pingPong(w, 2)
          yield* w.send({ t: "work", wen: 1700000000001, ev: { op: "incr", key: "a", by: 2 } })
          expect(yield* w.next("work-done")).toMatchObject({ t: "work-done", eve: 2 })
          yield* pingPong(w, 3)
          yield* w.send({ t: "nonsense" })
          yield* pingPong(w, 4)
          yield* w.send({ t: "peek", now: 1700000000002, gang: null, path: ["get", "a"] })
          expect(yield* w.next("peek")).toStrictEqual({ t: "peek", dat: 3 })
          yield* w.send({ t: "exit", code: 0 })
          const result = yield* w.child.result
          expect(result.code).toBe(0)
          unknownLogged(logs.lines, "unknown writ")
        }).pipe(Effect.scoped, Effect.provide(logs.layer))
      })
    }

    it.live(`${language} bare wire: pings are answered in order with other messages, never handed on; heartbeat off hands them on`, () =>
      Effect.gen(function*() {
        for (const heartbeat of ["1", "0"]) {
          const answers = yield* Effect.scoped(Effect.gen(function*() {
            const w = yield* talk(programs[language].bare, "json", { BY_HAND_HEARTBEAT: heartbeat })
            yield* w.send({ t: "hello", n: 1 })
            yield* w.send({ t: "ping", n: 2 })
            yield* w.send({ t: "hello", n: 3 })
            return [yield* w.next("1"), yield* w.next("2"), yield* w.next("3")]
          }))
          expect(answers).toStrictEqual([
            { t: "seen", n: 1, what: "hello" },
            heartbeat === "1" ? { t: "pong", n: 2 } : { t: "seen", n: 2, what: "ping" },
            { t: "seen", n: 3, what: "hello" }
          ])
        }
      }))
  }
})

describe("a pool handler that crashes is answered `internal`", () => {
  for (const language of languages) {
    for (const codec of codecNames) {
      it.live(`${language}: a throw, a later throw, an answer that cannot be encoded (${codec})`, () =>
        Effect.gen(function*() {
          const w = yield* talk(programs[language].pool, codec)
          expect((yield* w.next("ready")).t).toBe("ready")
          yield* w.send({ t: "req", id: 1, payload: { op: "throw", message: "at once" } })
          expect(yield* w.next("answer 1")).toStrictEqual({ t: "res", id: 1, err: { code: "internal", message: "Boom: at once" } })
          yield* w.send({ t: "req", id: 2, payload: { op: "throw", message: "later", ms: 1 } })
          expect(yield* w.next("answer 2")).toStrictEqual({ t: "res", id: 2, err: { code: "internal", message: "Boom: later" } })
          // 1e308 + 1e308 is Infinity: not a finite number, it cannot travel
          yield* w.send({ t: "req", id: 3, payload: { op: "add", a: 1e308, b: 1e308 } })
          const answer = yield* w.next("answer 3")
          expect(answer).toMatchObject({ t: "res", id: 3, err: { code: "internal" } })
          expect(answer.err?.message).toMatch(/^the answer cannot be encoded: .*finite/)
          // a refusal is still the handler's own code, and the worker still serves
          yield* w.send({ t: "req", id: 4, payload: { op: "fail", code: "E_NOPE", message: "no" } })
          expect(yield* w.next("answer 4")).toStrictEqual({ t: "res", id: 4, err: { code: "E_NOPE", message: "no" } })
        }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
    }
  }
})
