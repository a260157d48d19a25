/**
 * Values travel exactly or not at all (SPEC §1), checked against an
 * independent MessagePack implementation (@msgpack/msgpack) both ways:
 * our bytes decode there to the same values, with integers as integers;
 * its bytes (and bytes made by hand) are taken exactly by our decoder or
 * refused with a reason. Both codecs refuse to encode what cannot travel.
 */
import { describe, expect, it } from "@effect/vitest"
import { decode as theirDecode, encode as theirEncode, ExtData } from "@msgpack/msgpack"
import { type Codec, codecNames, codec as codecOf, DecodeFailure, EncodeFailure, json, msgpack, RawJson } from "../../src/wire/codec.ts"

const ours = (value: unknown): Buffer => msgpack.frame(value).subarray(8)
const theirs = (value: unknown, options?: { readonly useBigInt64?: boolean }) => Buffer.from(theirEncode(value, options))
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

/** The reason a payload is refused with; fails the test when it is accepted. */
const refusal = (c: Codec, payload: Uint8Array): string => {
  let value: unknown
  try {
    value = c.decode(Buffer.from(payload))
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeFailure)
    return (e as DecodeFailure).reason
  }
  throw new Error(`accepted ${hex(payload)} as ${JSON.stringify(value)}`)
}

const encodeRefusal = (c: Codec, message: unknown): string => {
  try {
    c.frame(message)
  } catch (e) {
    expect(e).toBeInstanceOf(EncodeFailure)
    return (e as EncodeFailure).message
  }
  throw new Error(`${c.name} encoded a value that cannot travel exactly`)
}

describe("msgpack integers", () => {
  // n, the format byte of the smallest MessagePack int/uint that holds it
  const table: ReadonlyArray<readonly [number, number]> = [
    [0, 0x00],
    [127, 0x7f],
    [128, 0xcc],
    [255, 0xcc],
    [256, 0xcd],
    [65535, 0xcd],
    [65536, 0xce],
    [2 ** 32 - 1, 0xce],
    [2 ** 32, 0xcf],
    [2 ** 32 + 5, 0xcf],
    [1796111574910, 0xcf],
    [2 ** 53 - 1, 0xcf],
    [-1, 0xff],
    [-32, 0xe0],
    [-33, 0xd0],
    [-128, 0xd0],
    [-129, 0xd1],
    [-32768, 0xd1],
    [-32769, 0xd2],
    [-(2 ** 31), 0xd2],
    [-(2 ** 31) - 1, 0xd3],
    [-(2 ** 40), 0xd3],
    [-(2 ** 53 - 1), 0xd3]
  ]
  for (const [n, format] of table) {
    it(`${n} is written as a MessagePack integer (0x${format.toString(16)})`, () => {
      const bytes = ours(n)
      expect(bytes[0]).toBe(format)
      expect(hex(bytes)).toBe(hex(theirs(n)))
      // read as 64-bit integers where they are 64-bit: the bytes say integer, not float
      const wide = format === 0xcf || format === 0xd3
      expect(theirDecode(bytes, { useBigInt64: true })).toBe(wide ? BigInt(n) : n)
      expect(theirDecode(bytes)).toBe(n)
      expect(msgpack.decode(bytes)).toBe(n)
    })
  }

  it("every other number is a float64", () => {
    for (const n of [1.5, -0.1, 2 ** 53, -(2 ** 53), 2 ** 64, 1e300, Number.MIN_VALUE]) {
      const bytes = ours(n)
      expect(bytes[0]).toBe(0xcb)
      expect(theirDecode(bytes)).toBe(n)
      expect(msgpack.decode(bytes)).toBe(n)
    }
  })

  it("a work writ's wen reaches another library as an integer", () => {
    const writ = { t: "work", wen: 1796111574910, ev: { n: 2 ** 32 + 5, m: -(2 ** 40) } }
    const bytes = ours(writ)
    expect(hex(bytes)).toBe(hex(theirs(writ)))
    expect(theirDecode(bytes, { useBigInt64: true })).toEqual({
      t: "work",
      wen: 1796111574910n,
      ev: { n: 2n ** 32n + 5n, m: -(2n ** 40n) }
    })
  })
})

describe("msgpack decoding of another library's bytes", () => {
  it("takes plain values exactly, whatever the integer format", () => {
    const values: ReadonlyArray<unknown> = [
      null,
      true,
      "é ✓ 😀",
      "x".repeat(300),
      [1, [2, [3]], { a: -(2 ** 53 - 1), b: 2 ** 53 - 1 }],
      { "": 0, "ключ": [1.25, -7], long: "y".repeat(70_000) },
      Array.from({ length: 70_000 }, (_, i) => i)
    ]
    for (const v of values) expect(msgpack.decode(theirs(v))).toEqual(v)
    // an integer in a wider format than needed is the same integer
    expect(msgpack.decode(theirs(5n, { useBigInt64: true }))).toBe(5)
    expect(msgpack.decode(theirs(2n ** 53n - 1n, { useBigInt64: true }))).toBe(2 ** 53 - 1)
    expect(msgpack.decode(theirs(-(2n ** 53n - 1n), { useBigInt64: true }))).toBe(-(2 ** 53 - 1))
    expect(msgpack.decode(Buffer.from([0xca, 0x3f, 0xc0, 0, 0]))).toBe(1.5) // float32
  })

  const refused: ReadonlyArray<readonly [string, Uint8Array, string]> = [
    ["uint64 max", theirs(2n ** 64n - 1n, { useBigInt64: true }), "integer 18446744073709551615 is beyond ±(2^53−1)"],
    ["int64 min", theirs(-(2n ** 63n), { useBigInt64: true }), "integer -9223372036854775808 is beyond ±(2^53−1)"],
    ["2^53 + 1", theirs(2n ** 53n + 1n, { useBigInt64: true }), "integer 9007199254740993 is beyond ±(2^53−1)"],
    ["2^53 as an integer", theirs(2n ** 53n, { useBigInt64: true }), "integer 9007199254740992 is beyond"],
    ["-2^53 as an integer", theirs(-(2n ** 53n), { useBigInt64: true }), "integer -9007199254740992 is beyond"],
    ["bin", theirs(new Uint8Array([1, 2, 3])), "bin values cannot be given to JSON callers"],
    ["bin inside a map", theirs({ t: "x", data: new Uint8Array(300) }), "at data: bin values cannot be given to JSON callers"],
    ["fixext", theirs(new ExtData(5, new Uint8Array([1]))), "extension type 5 is not plain MessagePack"],
    ["ext 8", theirs(new ExtData(7, new Uint8Array([1, 2, 3]))), "extension type 7 is not plain MessagePack"],
    ["a timestamp", theirs(new Date(0)), "extension type -1 is not plain MessagePack"],
    ["NaN", theirs(NaN), "NaN cannot be given to JSON callers (not a finite number)"],
    ["Infinity", theirs(Infinity), "Infinity cannot be given to JSON callers"],
    ["-Infinity", theirs(-Infinity), "-Infinity cannot be given to JSON callers"],
    ["float32 NaN", Uint8Array.from([0xca, 0x7f, 0xc0, 0, 0]), "NaN cannot be given to JSON callers"],
    ["float32 Infinity", Uint8Array.from([0xca, 0x7f, 0x80, 0, 0]), "Infinity cannot be given"],
    ["a NaN deep inside", theirs({ a: [1, { b: NaN }] }), "at a[1].b: NaN cannot be given"],
    ["a map key that is a number", Uint8Array.from([0x81, 0x01, 0xa1, 0x61]), "a map key is not a string (format 0x1)"],
    ["a map key that is nil", Uint8Array.from([0x81, 0xc0, 0x01]), "a map key is not a string"],
    // str bytes that are not UTF-8, made by hand
    ["a bad continuation byte", Uint8Array.from([0xa2, 0xc3, 0x28]), "a str is not valid UTF-8"],
    ["a lone continuation byte", Uint8Array.from([0xa1, 0x80]), "a str is not valid UTF-8"],
    ["an overlong NUL", Uint8Array.from([0xa2, 0xc0, 0x80]), "a str is not valid UTF-8"],
    ["an overlong slash (3 bytes)", Uint8Array.from([0xa3, 0xe0, 0x80, 0xaf]), "a str is not valid UTF-8"],
    ["a surrogate in UTF-8", Uint8Array.from([0xa3, 0xed, 0xa0, 0x80]), "a str is not valid UTF-8"],
    ["past U+10FFFF", Uint8Array.from([0xa4, 0xf4, 0x90, 0x80, 0x80]), "a str is not valid UTF-8"],
    ["0xff", Uint8Array.from([0xa1, 0xff]), "a str is not valid UTF-8"],
    ["a cut sequence", Uint8Array.from([0xa2, 0xe2, 0x82]), "a str is not valid UTF-8"],
    ["a long str with one bad byte", Uint8Array.from([0xd9, 70, ...Buffer.from("a".repeat(69)), 0xff]), "a str is not valid UTF-8"],
    ["a map key that is not UTF-8", Uint8Array.from([0x81, 0xa2, 0x6b, 0xff, 0x01]), "a str is not valid UTF-8"],
    ["a value under a key, not UTF-8", Uint8Array.from([0x81, 0xa1, 0x6b, 0xa1, 0xfe]), "at k: a str is not valid UTF-8"],
    // not one MessagePack value
    ["0xc1", Uint8Array.from([0xc1]), "byte 0xc1 is never used in MessagePack"],
    ["bytes after the value", Uint8Array.from([0x01, 0x02]), "1 bytes follow the value"],
    ["a cut uint16", Uint8Array.from([0xcd, 0x01]), "truncated"],
    ["a cut str", Uint8Array.from([0xa5, 0x61]), "truncated"],
    ["an array that claims 2^32 − 1 items", Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]), "truncated"],
    ["a map that claims 65535 entries", Uint8Array.from([0xde, 0xff, 0xff, 0xa1, 0x61, 0x01]), "truncated"],
    ["nothing", Uint8Array.from([]), "truncated"]
  ]
  for (const [name, bytes, reason] of refused) {
    it(`refuses ${name}`, () => {
      expect(refusal(msgpack, bytes)).toContain(reason)
    })
  }

  it("refuses nesting deeper than the stack, as a DecodeFailure", () => {
    const deep = Buffer.alloc(1_000_001, 0x91)
    deep[deep.length - 1] = 0xc0
    expect(refusal(msgpack, deep)).toBe("nested too deeply")
  })

  it("a __proto__ key is data, never the object's prototype", () => {
    const bytes = Buffer.concat([Buffer.from([0x81, 0xa9]), Buffer.from("__proto__"), Buffer.from([0x81, 0xa1, 0x78, 0x01])])
    const v = msgpack.decode(bytes) as Record<string, unknown>
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    expect(Object.keys(v)).toEqual(["__proto__"])
    expect((v as { x?: unknown }).x).toBeUndefined()
    expect(v).toEqual(JSON.parse(`{"__proto__":{"x":1}}`))
    expect(hex(ours(v))).toBe(hex(bytes))
  })
})

describe("json decoding", () => {
  const text = (s: string) => Buffer.from(s, "utf8")
  it("refuses a payload that is not UTF-8", () => {
    expect(refusal(json, Buffer.from([...Buffer.from(`{"t":"`), 0xff, ...Buffer.from(`"}`)]))).toBe("not valid UTF-8")
    expect(refusal(json, Buffer.from([...Buffer.from(`{"t":"`), 0xed, 0xa0, 0x80, ...Buffer.from(`"}`)]))).toBe("not valid UTF-8")
  })
  it("refuses strings and keys that escape a lone surrogate", () => {
    expect(refusal(json, text(`{"t":"\\ud800"}`))).toBe("at t: a string holds a lone surrogate (\\ud800): it is not Unicode text")
    expect(refusal(json, text(`{"t":"x","v":["ok","\\uDBFF"]}`))).toContain("at v[1]: a string holds a lone surrogate (\\udbff)")
    expect(refusal(json, text(`{"t":"x","\\udc00":1}`))).toContain("lone surrogate (\\udc00)")
    expect(refusal(json, text(`{"t":"\\ude00\\ud83d"}`))).toContain("lone surrogate (\\ude00)")
  })
  it("refuses a number literal beyond the range of a double (JSON.parse reads it as ±Infinity)", () => {
    expect(refusal(json, text(`{"t":"x","v":[1,1e999]}`))).toBe(
      "at v[1]: a number literal beyond the range of a double (read as Infinity) cannot be given to JSON callers"
    )
    expect(refusal(json, text(`{"t":"x","w":{"n":-${"9".repeat(400)}}}`))).toContain("at w.n: a number literal beyond")
    expect(json.decode(text(`{"t":"x","v":1e-400,"w":"1e999"}`))).toEqual({ t: "x", v: 0, w: "1e999" })
  })
  it("a worker reads the host's JSON text as JavaScript does: a literal beyond a double is ±Infinity", () => {
    // the host hands on event text it was given as it is (SPEC §1: outside the promise)
    expect(json.decodeFromHost(text(`{"t":"work","ev":{"n":1e400,"m":-1e400}}`))).toEqual({ t: "work", ev: { n: Infinity, m: -Infinity } })
    // everything else is refused alike
    expect(() => json.decodeFromHost(text(`{"t":"\\ud800"}`))).toThrow(DecodeFailure)
    expect(() => json.decodeFromHost(Buffer.from([0x22, 0xff, 0x22]))).toThrow(DecodeFailure)
  })
  it("takes escaped pairs and escaped backslashes as the text they spell", () => {
    expect(json.decode(text(`{"t":"\\ud83d\\ude00"}`))).toEqual({ t: "😀" })
    expect(json.decode(text(`{"t":"\\\\ud800"}`))).toEqual({ t: "\\ud800" })
    expect(json.decode(text(`{"t":"é ✓"}`))).toEqual({ t: "é ✓" })
  })
})

describe("encoding refuses what cannot travel exactly", () => {
  class Point {
    readonly x = 1
  }
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic["self"] = cyclic
  const cases: ReadonlyArray<readonly [string, unknown, string]> = [
    ["a lone high surrogate", "\ud800", "at v: a string holds a lone surrogate (\\ud800): it is not Unicode text"],
    ["a lone low surrogate", "ok\udc00", "lone surrogate (\\udc00)"],
    ["a high surrogate at the end of a long string", "x".repeat(100) + "\ud83d", "lone surrogate (\\ud83d)"],
    ["a key with a lone surrogate", { "k\udfff": 1 }, "lone surrogate (\\udfff)"],
    ["NaN", NaN, "at v: NaN is not a finite number"],
    ["Infinity", [1, Infinity], "at v[1]: Infinity is not a finite number"],
    ["-Infinity", { deep: { er: -Infinity } }, "at v.deep.er: -Infinity is not a finite number"],
    ["a BigInt", 5n, "a BigInt (5n) is not a JSON number"],
    ["undefined in an array", [1, undefined], "at v[1]: undefined is not a JSON value"],
    // biome-ignore lint: a hole on purpose
    ["a hole in an array", [1, , 3], "at v[1]: undefined is not a JSON value"],
    ["a Uint8Array", new Uint8Array([1]), "a Uint8Array cannot travel"],
    ["a Buffer", Buffer.from([1]), "a Buffer cannot travel"],
    ["a Map", new Map([["a", 1]]), "a Map is not plain data"],
    ["a Set", new Set([1]), "a Set is not plain data"],
    ["a Date", new Date(0), "a Date is not plain data"],
    ["a class instance", new Point(), "a Point is not plain data"],
    ["a function", () => 1, "a function cannot travel"],
    ["a function in an object", { f: () => 1 }, "at v.f: a function cannot travel"],
    ["a symbol", Symbol("s"), "a symbol cannot travel"],
    ["a cycle", cyclic, "the value is cyclic or nested too deeply"],
    ["an odd key on the path", { "a b": [NaN] }, `at v["a b"][0]: NaN`]
  ]
  for (const c of codecNames) {
    for (const [name, v, message] of cases) {
      it(`${c}: ${name}`, () => {
        expect(encodeRefusal(codecOf(c), { t: "x", v })).toContain(message)
      })
    }
    it(`${c}: an object property that is undefined is left out, as JSON does`, () => {
      const codec = codecOf(c)
      expect(codec.decode(codec.frame({ t: "x", a: 1, b: undefined }).subarray(8))).toEqual({ t: "x", a: 1 })
    })
    it(`${c}: an object without a prototype is plain data`, () => {
      const codec = codecOf(c)
      const o = Object.assign(Object.create(null), { t: "x", n: 1 })
      expect(codec.decode(codec.frame(o).subarray(8))).toEqual({ t: "x", n: 1 })
    })
  }

  it("json text given as it is is refused when it spells a lone surrogate", () => {
    expect(encodeRefusal(json, new RawJson(`{"t":"x","v":"\\ud800"}`))).toContain("lone surrogate (\\ud800)")
    expect(encodeRefusal(json, new RawJson(`{"t":"x","v":"\ud800"}`))).toContain("lone surrogate (\\ud800)")
    const fine = `{"t":"x","v":"\\ud83d\\ude00","w":1.50}`
    expect(json.frame(new RawJson(fine)).subarray(8).toString()).toBe(fine)
  })

  it("json: JSON-representable values come out as JSON.stringify writes them", () => {
    const v = { t: "x", a: [1, -0.5, 1e21, 2 ** 53 - 1, "é\n\u2028\u0001"], b: { c: null, d: true }, "\ud83d\ude00": "" }
    expect(json.frame(v).subarray(8).toString("utf8")).toBe(JSON.stringify(v))
  })
})
