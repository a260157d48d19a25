/**
 * Values travel exactly or not at all (SPEC §1), end to end with a real
 * Python worker (test/wire/fixtures/probe.py): integers reach it as ints
 * (a serf's `wen` included), whatever it reads comes back identical, its
 * MessagePack bytes are ours, and what cannot travel is refused — by the
 * Python SDK (examples/python/liege.py) before it is sent, or by the host
 * (BadMessage, saying why) when the worker sends it anyway.
 *
 * The MessagePack side runs twice: with the SDK's own stdlib-only codec, and
 * with the standard `msgpack` package when Debian's python3-msgpack is there.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Schema, Stream } from "effect"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { spawn } from "../../src/supervisor/child.ts"
import { open } from "../../src/wire/channel.ts"
import { type CodecName, msgpack } from "../../src/wire/codec.ts"
import { root } from "../support/procs.ts"

const probe = path.join(root, "test/wire/fixtures/probe.py")
/** A Python with the standard `msgpack` package: Debian's python3-msgpack (.ci/run installs it) is for /usr/bin/python3. */
const stdPython = ["python3", "/usr/bin/python3"].find((py) => spawnSync(py, ["-c", "import msgpack"]).status === 0)

const Answer = Schema.Struct({
  t: Schema.String,
  n: Schema.Number,
  value: Schema.optional(Schema.Unknown),
  types: Schema.optional(Schema.Unknown),
  packed: Schema.optional(Schema.String),
  reason: Schema.optional(Schema.String)
})

type Impl = "liege" | "std"

const pythonWithMsgpack = (): string => {
  if (stdPython === undefined) {
    throw new Error("no python3 here has the standard msgpack package: install Debian's python3-msgpack (.ci/run does)")
  }
  return stdPython
}

const worker = (codec: CodecName, impl: Impl) =>
  Effect.gen(function*() {
    const child = yield* spawn({
      command: impl === "std" ? pythonWithMsgpack() : "python3",
      args: [probe],
      env: { LIEGE_CODEC: codec, PROBE_MSGPACK: impl },
      stdout: "pipe",
      grace: 2000,
      annotations: { worker: 1 }
    })
    return yield* open(child, { incoming: Answer, codec })
  })

/** The first answer, or the error the stream failed with. */
const firstAnswer = (codec: CodecName, impl: Impl, order: Record<string, unknown>) =>
  Effect.gen(function*() {
    const ch = yield* worker(codec, impl)
    yield* ch.send(order)
    const exit = yield* Effect.exit(ch.messages.pipe(Stream.take(1), Stream.runCollect))
    if (Exit.isSuccess(exit)) return { answer: exit.value[0]! }
    const error = (exit.cause.reasons[0] as { error?: { _tag: string; message: string } }).error
    return { error: error! }
  })

const numbers = {
  wen: 1796111574910,
  above32: 2 ** 32 + 5,
  max: 2 ** 53 - 1,
  min: -(2 ** 53 - 1),
  neg40: -(2 ** 40),
  below32: -(2 ** 31) - 1,
  small: 7,
  half: 1.5,
  big: 2 ** 60 // a double, not a safe integer: a float on every side
}
const numberTypes = { ...Object.fromEntries(Object.keys(numbers).map((k) => [k, "int"])), half: "float", big: "float" }

const impls: ReadonlyArray<Impl> = ["liege", "std"]

describe("msgpack end to end with a Python worker", () => {
  for (const impl of impls) {
    const name = impl === "std" ? "the standard msgpack package" : "the SDK's own codec"

    it.live(`${name}: safe integers arrive as ints, everything comes back identical, the bytes are ours`, () =>
      Effect.gen(function*() {
        const ch = yield* worker("msgpack", impl)
        const values: ReadonlyArray<unknown> = [
          numbers,
          { t: "work", wen: 1796111574910, ev: { text: "é ✓ 😀", list: [null, true, false, "x".repeat(300)] } },
          { nested: [[1, [2 ** 33]], { "": -0.25, "ключ": "値" }] }
        ]
        for (const [n, value] of values.entries()) yield* ch.send({ t: "probe", n, value })
        const seen = yield* ch.messages.pipe(Stream.take(values.length), Stream.runCollect)
        expect(seen[0]!.types).toEqual(numberTypes)
        expect((seen[1]!.types as { wen: unknown }).wen).toBe("int")
        for (const [n, value] of values.entries()) {
          expect(seen[n]!.value).toStrictEqual(value)
          expect(seen[n]!.packed).toBe(msgpack.frame(value).subarray(8).toString("hex"))
        }
      }).pipe(Effect.scoped))

    // what the worker is told to send, and who refuses it: the worker (its codec) or the host (BadMessage)
    const bad: ReadonlyArray<readonly [string, string | undefined, string]> = [
      ["uint64max", "integer 18446744073709551615 is beyond ±(2^53−1)", "integer 18446744073709551615 is beyond"],
      ["int64min", "integer -9223372036854775808 is beyond ±(2^53−1)", "integer -9223372036854775808 is beyond"],
      ["unsafe", "integer 9007199254740993 is beyond ±(2^53−1)", "integer 9007199254740993 is beyond"],
      ["bin", "bin values cannot be given to JSON callers", "bytes cannot travel"],
      ["nan", "NaN cannot be given to JSON callers", "nan is not a finite number"],
      ["inf", "Infinity cannot be given to JSON callers", "inf is not a finite number"],
      ["intkey", "a map key is not a string", "a dict key of type int is not a str"],
      ["ext", "extension type 5 is not plain MessagePack", "a object is not plain data"],
      ["lone", undefined, "surrogate"]
    ]
    for (const [kind, hostSays, workerSays] of bad) {
      const refusedBy = impl === "std" && hostSays !== undefined ? "the host" : "the worker"
      it.live(`${name}: ${kind} is refused by ${refusedBy}`, () =>
        Effect.gen(function*() {
          const got = yield* firstAnswer("msgpack", impl, { t: "send", n: 1, kind })
          if (refusedBy === "the host") {
            expect(got.error?._tag).toBe("BadMessage")
            expect(got.error?.message).toContain(hostSays)
          } else {
            expect(got.answer?.t).toBe("refused")
            expect(got.answer?.reason).toContain(workerSays)
          }
        }).pipe(Effect.scoped))
    }
  }

  // bytes no MessagePack library writes from a str, crafted by hand
  const crafted: ReadonlyArray<readonly [string, string, string]> = [
    // {"t": <bytes>}: fixmap of 1, fixstr "t", then the value
    ["invalid UTF-8 in a str", "81a174" + "a2c328", "at t: a str is not valid UTF-8"],
    ["a UTF-8 surrogate in a str", "81a174" + "a3eda080", "at t: a str is not valid UTF-8"],
    ["a float32 NaN", "81a174" + "ca7fc00000", "at t: NaN cannot be given to JSON callers"]
  ]
  for (const [name, hex, reason] of crafted) {
    it.live(`the host refuses ${name} from a worker with BadMessage`, () =>
      Effect.gen(function*() {
        const got = yield* firstAnswer("msgpack", "liege", { t: "raw", hex })
        expect(got.error?._tag).toBe("BadMessage")
        expect(got.error?.message).toContain(reason)
      }).pipe(Effect.scoped))
  }
})

describe("json end to end with a Python worker", () => {
  it.live("values come back identical", () =>
    Effect.gen(function*() {
      const ch = yield* worker("json", "liege")
      const value = { ...numbers, text: "é ✓ 😀 \u2028", list: [null, true, { a: [] }] }
      yield* ch.send({ t: "probe", n: 0, value })
      const [seen] = yield* ch.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(seen!.value).toStrictEqual(value)
      expect(seen!.types).toMatchObject({ wen: "int", half: "float" })
    }).pipe(Effect.scoped))

  for (const [kind, says] of [["nan", "not finite"], ["bin", "bytes cannot travel"], ["lone", "lone surrogate"]] as const) {
    it.live(`the SDK refuses to send ${kind}`, () =>
      Effect.gen(function*() {
        const got = yield* firstAnswer("json", "liege", { t: "send", n: 1, kind })
        expect(got.answer?.t).toBe("refused")
        expect(got.answer?.reason).toContain(says)
      }).pipe(Effect.scoped))
  }

  const text = (s: string) => Buffer.from(s, "utf8").toString("hex")
  const crafted: ReadonlyArray<readonly [string, string, string]> = [
    ["a payload that is not UTF-8", text(`{"t":"seen","n":1,"value":"`) + "ff" + text(`"}`), "not valid UTF-8"],
    ["a lone surrogate escape", text(`{"t":"seen","n":1,"value":"\\udc00"}`), "lone surrogate (\\udc00)"],
    ["a number beyond a double", text(`{"t":"seen","n":1,"value":1e999}`), "beyond the range of a double"]
  ]
  for (const [name, hex, reason] of crafted) {
    it.live(`the host refuses ${name} from a worker with BadMessage`, () =>
      Effect.gen(function*() {
        const got = yield* firstAnswer("json", "liege", { t: "raw", hex })
        expect(got.error?._tag).toBe("BadMessage")
        expect(got.error?.message).toContain(reason)
      }).pipe(Effect.scoped))
  }
})
