/**
 * Law (SPEC §1, values travel exactly or not at all): any JSON value —
 * safe integers of every width, finite doubles, Unicode strings, nested
 * arrays and objects — comes back identical through both codecs; json writes
 * exactly JSON.stringify's text; msgpack writes exactly the bytes another
 * MessagePack library (@msgpack/msgpack) writes, and each reads the other's
 * bytes as the same value. A string travels if and only if it is Unicode
 * text. Decoding any bytes gives a value that can be sent on, or a
 * DecodeFailure — never anything else. (-0 is written as 0, as
 * JSON.stringify writes it.)
 */
import { describe, expect, it } from "@effect/vitest"
import { decode as theirDecode, encode as theirEncode } from "@msgpack/msgpack"
import fc from "fast-check"
import { codec, codecNames, DecodeFailure, EncodeFailure, json, msgpack } from "../../src/wire/codec.ts"

const text = fc.string({ unit: "binary" })
// -0 is not a JSON value (JSON.stringify writes 0)
const number = fc
  .oneof(fc.maxSafeInteger(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
  .map((n) => (Object.is(n, -0) ? 0 : n))
const plain = fc.anything({
  // @msgpack/msgpack refuses a `__proto__` key; ours is tested on its own (test/wire/codec.test.ts)
  key: text.filter((k) => k !== "__proto__"),
  values: [fc.constant(null), fc.boolean(), number, text],
  maxDepth: 4
})
const payload = (c: typeof json, v: unknown) => c.frame(v).subarray(8)

/** `v` with -0 as 0: both codecs write -0 as 0, as JSON.stringify does. */
const zeroed = (v: unknown): unknown => {
  if (Object.is(v, -0)) return 0
  if (Array.isArray(v)) return v.map(zeroed)
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, zeroed(x)]))
  return v
}

/** Any UTF-16 string, lone surrogates included. */
const anyUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)) })

describe("codec laws", () => {
  for (const name of codecNames) {
    it(`${name}: any JSON value round-trips identically`, () => {
      const c = codec(name)
      fc.assert(fc.property(plain, (v) => {
        expect(c.decode(payload(c, v))).toStrictEqual(v)
      }), { numRuns: 500 })
    })

    it(`${name}: a string travels if and only if it is Unicode text`, () => {
      const c = codec(name)
      fc.assert(fc.property(anyUnits, anyUnits, (s, key) => {
        const message = { t: "x", s, [`k${key}`]: 1 }
        let sent: Buffer | undefined = undefined
        try {
          sent = payload(c, message)
        } catch (e) {
          expect(e).toBeInstanceOf(EncodeFailure)
        }
        expect(sent !== undefined).toBe(s.isWellFormed() && key.isWellFormed())
        if (sent !== undefined) expect(c.decode(sent)).toStrictEqual(message)
      }), { numRuns: 1000 })
    })

    it(`${name}: decoding any bytes gives a value that can be sent on, or a DecodeFailure`, () => {
      const c = codec(name)
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        // near-misses: valid payloads with a byte changed
        fc.tuple(plain, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([v, at, b]) => {
          const p = Buffer.from(payload(c, v))
          p[at % p.length] = b
          return p
        })
      )
      fc.assert(fc.property(bytes, (b) => {
        let value: unknown
        try {
          value = c.decode(Buffer.from(b))
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeFailure)
          return
        }
        expect(c.decode(payload(c, value))).toStrictEqual(zeroed(value))
      }), { numRuns: 2000 })
    })
  }

  it("json writes exactly JSON.stringify's text", () => {
    fc.assert(fc.property(plain, (v) => {
      expect(payload(json, v).toString("utf8")).toBe(JSON.stringify(v))
    }), { numRuns: 500 })
  })

  it("msgpack writes the bytes @msgpack/msgpack writes, and each reads the other's as the same value", () => {
    fc.assert(fc.property(plain, (v) => {
      const ours = payload(msgpack, v)
      const theirs = Buffer.from(theirEncode(v))
      expect(ours.toString("hex")).toBe(theirs.toString("hex"))
      expect(theirDecode(ours)).toStrictEqual(v)
      expect(msgpack.decode(theirs)).toStrictEqual(v)
    }), { numRuns: 500 })
  })

  it("msgpack: another library's bytes for any value are taken exactly or refused, never reshaped", () => {
    // what @msgpack/msgpack writes for values beyond plain data: 64-bit integers, bytes, dates, non-finite numbers
    const wide = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.constant(null),
        number,
        text,
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
        fc.constantFrom(NaN, Infinity, -Infinity),
        fc.uint8Array({ maxLength: 4 }),
        fc.date({ noInvalidDate: true }),
        fc.array(tie("value"), { maxLength: 4 }),
        fc.dictionary(text.filter((k) => k !== "__proto__"), tie("value"), { maxKeys: 4 })
      )
    })).value
    const exact = (v: unknown): boolean => {
      if (typeof v === "bigint") return v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n
      if (typeof v === "number") return Number.isFinite(v)
      if (v instanceof Uint8Array || v instanceof Date) return false
      if (Array.isArray(v)) return v.every(exact)
      if (typeof v === "object" && v !== null) return Object.values(v).every(exact)
      return true
    }
    const asNumbers = (v: unknown): unknown => {
      if (typeof v === "bigint") return Number(v)
      if (Array.isArray(v)) return v.map(asNumbers)
      if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asNumbers(x)]))
      return v
    }
    fc.assert(fc.property(wide, (v) => {
      const bytes = Buffer.from(theirEncode(v, { useBigInt64: true }))
      if (exact(v)) expect(msgpack.decode(bytes)).toStrictEqual(asNumbers(v))
      else expect(() => msgpack.decode(bytes)).toThrow(DecodeFailure)
    }), { numRuns: 1000 })
  })
})
