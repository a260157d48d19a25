import { describe, expect, it, vi } from "@effect/vitest"
import { encodeFrame, FrameDecoder, FrameOverflow, writeHeader } from "../../src/wire/frame.ts"

const collect = (decoder: FrameDecoder, chunks: ReadonlyArray<Buffer>) => {
  const out: Array<string> = []
  for (const c of chunks) decoder.push(c, (f) => out.push(f.toString()))
  return out
}

describe("frame", () => {
  it("writes an 8-byte little-endian length before the payload", () => {
    const f = encodeFrame(Buffer.from("abc"))
    expect([...f]).toEqual([3, 0, 0, 0, 0, 0, 0, 0, 97, 98, 99])
    const h = Buffer.alloc(8)
    writeHeader(h, 2 ** 33 + 5)
    expect(h.readBigUInt64LE(0)).toBe(2n ** 33n + 5n)
  })

  it("decodes frames split anywhere, including inside the header", () => {
    const all = Buffer.concat([encodeFrame(Buffer.from("hello")), encodeFrame(Buffer.alloc(0)), encodeFrame(Buffer.from("x"))])
    for (let cut = 0; cut <= all.length; cut++) {
      const d = new FrameDecoder()
      expect(collect(d, [all.subarray(0, cut), all.subarray(cut)])).toEqual(["hello", "", "x"])
      expect(d.pending).toBe(0)
    }
    const d = new FrameDecoder()
    expect(collect(d, [...all].map((b) => Buffer.from([b])))).toEqual(["hello", "", "x"])
  })

  it("counts the bytes of a frame cut off", () => {
    const d = new FrameDecoder()
    collect(d, [encodeFrame(Buffer.from("hello")).subarray(0, 10)])
    expect(d.pending).toBe(10)
    const h = new FrameDecoder()
    collect(h, [Buffer.from([1, 0, 0])])
    expect(h.pending).toBe(3)
  })

  it("rejects an oversized header before allocating anything", () => {
    const alloc = vi.spyOn(Buffer, "allocUnsafe")
    const alloc2 = vi.spyOn(Buffer, "alloc")
    try {
      const d = new FrameDecoder(1024)
      const header = Buffer.alloc(8)
      writeHeader(header, 2 ** 40)
      alloc.mockClear()
      alloc2.mockClear()
      let thrown: unknown
      try {
        d.push(header.subarray(0, 3), () => {})
        d.push(header.subarray(3), () => {})
      } catch (e) {
        thrown = e
      }
      expect(thrown).toBeInstanceOf(FrameOverflow)
      expect((thrown as FrameOverflow).length).toBe(2 ** 40)
      expect(alloc).not.toHaveBeenCalled()
      expect(alloc2).not.toHaveBeenCalled()
    } finally {
      alloc.mockRestore()
      alloc2.mockRestore()
    }
  })

  it("accepts a frame of exactly maxFrameBytes", () => {
    const d = new FrameDecoder(4)
    expect(collect(d, [encodeFrame(Buffer.from("abcd"))])).toEqual(["abcd"])
  })
})
