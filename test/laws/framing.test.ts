/**
 * Law 5 (framing): any chunking of any sequence of frames decodes to the
 * same messages; a header above the limit fails without allocating;
 * decode∘encode is the identity for both codecs.
 */
import { describe, expect, it, vi } from "@effect/vitest"
import fc from "fast-check"
import { codec, codecNames } from "../../src/wire/codec.ts"
import { encodeFrame, FrameDecoder, FrameOverflow, writeHeader } from "../../src/wire/frame.ts"

const chunked = (bytes: Buffer, cuts: ReadonlyArray<number>): Array<Buffer> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Array<Buffer> = []
  let at = 0
  for (const p of points) {
    out.push(bytes.subarray(at, p))
    at = p
  }
  out.push(bytes.subarray(at))
  return out
}

// JSON-representable values without -0 (JSON cannot tell it from 0).
const value = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown)

describe("framing laws", () => {
  it("any chunking of any sequence of frames decodes to the same payloads", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)))
          const decoder = new FrameDecoder(1024)
          const out: Array<Uint8Array> = []
          for (const chunk of chunked(stream, cuts)) decoder.push(chunk, (f) => out.push(Uint8Array.from(f)))
          expect(out).toEqual(payloads.map((p) => Uint8Array.from(p)))
          expect(decoder.pending).toBe(0)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("a header above the limit fails from the header alone, without allocating", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1 << 20 }),
        fc.bigInt({ min: 1n, max: 2n ** 64n - 1n - (1n << 20n) }),
        fc.nat({ max: 8 }),
        (max, over, cut) => {
          const length = BigInt(max) + over
          const header = Buffer.alloc(8)
          header.writeBigUInt64LE(length, 0)
          const decoder = new FrameDecoder(max)
          const alloc = vi.spyOn(Buffer, "allocUnsafe")
          try {
            let thrown: unknown
            try {
              decoder.push(header.subarray(0, cut), () => {})
              decoder.push(header.subarray(cut), () => {})
            } catch (e) {
              thrown = e
            }
            expect(thrown).toBeInstanceOf(FrameOverflow)
            expect(alloc).not.toHaveBeenCalled()
          } finally {
            alloc.mockRestore()
          }
        }
      ),
      { numRuns: 300 }
    )
  })

  for (const name of codecNames) {
    it(`decode∘encode is the identity for ${name}`, () => {
      const c = codec(name)
      fc.assert(
        fc.property(fc.array(value, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 10 }), (messages, cuts) => {
          const stream = Buffer.concat(messages.map((m) => c.frame({ t: "m", v: m })))
          const decoder = new FrameDecoder()
          const out: Array<unknown> = []
          for (const chunk of chunked(stream, cuts)) decoder.push(chunk, (f) => out.push(c.decode(f)))
          expect(out).toEqual(messages.map((m) => ({ t: "m", v: m })))
        }),
        { numRuns: 300 }
      )
    })
  }

  it("writeHeader and the decoder agree on every length up to 2^53", () => {
    fc.assert(fc.property(fc.maxSafeNat(), (n) => {
      const h = Buffer.alloc(8)
      writeHeader(h, n)
      expect(h.readBigUInt64LE(0)).toBe(BigInt(n))
    }))
  })
})
