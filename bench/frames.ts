/**
 * Frame decode throughput: `FrameDecoder` fed with 64 KiB chunks (what a
 * pipe delivers), next to two plain Buffer loops over the same bytes, in the
 * same run:
 * - `concat`: the loop people write — append each chunk to the leftover
 *   with `Buffer.concat`, then cut frames while whole ones are there;
 * - `floor`: all bytes in one contiguous buffer, read a header, take a
 *   subarray, move on — no chunking at all, the floor any decoder pays.
 */
import { encodeFrame, FrameDecoder } from "../src/wire/frame.ts"

const TOTAL = 64 * 1024 * 1024
const CHUNK = 64 * 1024

const measure = (run: () => number, bytes: number) => {
  run() // warm up
  const rounds: Array<number> = []
  let frames = 0
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now()
    frames = run()
    rounds.push(performance.now() - t0)
  }
  rounds.sort((a, b) => a - b)
  const ms = rounds[2]!
  return { mbps: bytes / 1e6 / (ms / 1000), framesPerSec: frames / (ms / 1000) }
}

export const frameDecode = (size: number) => {
  const frame = encodeFrame(Buffer.alloc(size, 7))
  const count = Math.floor(TOTAL / frame.length)
  const stream = Buffer.concat(Array.from({ length: count }, () => frame))
  const chunks: Array<Buffer> = []
  for (let at = 0; at < stream.length; at += CHUNK) chunks.push(stream.subarray(at, at + CHUNK))

  let sink = 0
  const liege = measure(() => {
    const decoder = new FrameDecoder()
    let n = 0
    const onFrame = (f: Buffer) => {
      sink += f.length
      n++
    }
    for (const c of chunks) decoder.push(c, onFrame)
    return n
  }, stream.length)
  const concat = measure(() => {
    let n = 0
    let rest: Buffer = Buffer.alloc(0)
    for (const c of chunks) {
      let buf: Buffer = rest.length === 0 ? c : Buffer.concat([rest, c])
      let at = 0
      while (buf.length - at >= 8) {
        const len = buf.readUInt32LE(at)
        if (buf.length - at - 8 < len) break
        sink += buf.subarray(at + 8, at + 8 + len).length
        at += 8 + len
        n++
      }
      rest = buf.subarray(at)
      buf = rest
    }
    return n
  }, stream.length)
  const floor = measure(() => {
    let n = 0
    for (let at = 0; at + 8 <= stream.length;) {
      const len = stream.readUInt32LE(at)
      const f = stream.subarray(at + 8, at + 8 + len)
      sink += f.length
      at += 8 + len
      n++
    }
    return n
  }, stream.length)
  if (sink === 0) throw new Error("unreachable")
  return {
    bench: "frame-decode",
    frameBytes: size,
    mbps: Math.round(liege.mbps),
    framesPerSec: Math.round(liege.framesPerSec),
    concatMbps: Math.round(concat.mbps),
    floorMbps: Math.round(floor.mbps),
    ratioToConcat: Number((liege.mbps / concat.mbps).toFixed(2)),
    ratioToFloor: Number((liege.mbps / floor.mbps).toFixed(2))
  }
}

export const benches = [() => frameDecode(64), () => frameDecode(16 * 1024)]
