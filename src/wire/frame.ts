/**
 * Frames (SPEC §1): an 8-byte unsigned little-endian length `L`, then `L`
 * bytes of payload.
 *
 * `FrameDecoder` is incremental and linear: every byte is looked at once and
 * copied at most once. A frame that lies inside one chunk is handed out as a
 * zero-copy view of that chunk (valid until the callback returns); a frame
 * split across chunks is assembled in one buffer of exactly its size, which is
 * allocated only after the header has been checked against `maxFrameBytes`.
 *
 * This module and `codec.ts` do not load Effect: the worker SDK uses them too.
 */

export const HEADER_BYTES = 8
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024
const TWO_32 = 4294967296

/** Writes the 8-byte little-endian header for a payload of `length` bytes at `offset`. */
export const writeHeader = (target: Buffer, length: number, offset = 0): void => {
  target.writeUInt32LE(length % TWO_32, offset)
  target.writeUInt32LE(Math.floor(length / TWO_32), offset + 4)
}

/** A whole frame (header + payload) as one buffer. */
export const encodeFrame = (payload: Uint8Array): Buffer => {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length)
  writeHeader(out, payload.length)
  out.set(payload, HEADER_BYTES)
  return out
}

/** Thrown by `push` when a header announces more than `maxFrameBytes`. */
export class FrameOverflow {
  readonly length: number
  readonly max: number
  constructor(length: number, max: number) {
    this.length = length
    this.max = max
  }
}

export class FrameDecoder {
  readonly maxFrameBytes: number
  // header being assembled across chunks
  private readonly header = Buffer.alloc(HEADER_BYTES)
  private headerFilled = 0
  // body being assembled across chunks (undefined while reading a header)
  private body: Buffer | undefined = undefined
  private bodyFilled = 0

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes
  }

  /** Bytes held of an incomplete frame (header or body). */
  get pending(): number {
    return this.body !== undefined ? HEADER_BYTES + this.bodyFilled : this.headerFilled
  }

  /**
   * Feeds one chunk; calls `onFrame` for every frame it completes, in order.
   * Throws `FrameOverflow` as soon as a header above the limit is read.
   */
  push(chunk: Buffer, onFrame: (payload: Buffer) => void): void {
    const end = chunk.length
    let i = 0
    while (i < end) {
      if (this.body !== undefined) {
        const body = this.body
        const take = Math.min(body.length - this.bodyFilled, end - i)
        chunk.copy(body, this.bodyFilled, i, i + take)
        this.bodyFilled += take
        i += take
        if (this.bodyFilled === body.length) {
          this.body = undefined
          this.bodyFilled = 0
          onFrame(body)
        }
        continue
      }
      let length: number
      if (this.headerFilled === 0 && end - i >= HEADER_BYTES) {
        length = this.readLength(chunk, i)
        i += HEADER_BYTES
      } else {
        const take = Math.min(HEADER_BYTES - this.headerFilled, end - i)
        chunk.copy(this.header, this.headerFilled, i, i + take)
        this.headerFilled += take
        i += take
        if (this.headerFilled < HEADER_BYTES) return
        this.headerFilled = 0
        length = this.readLength(this.header, 0)
      }
      if (end - i >= length) {
        onFrame(chunk.subarray(i, i + length))
        i += length
      } else {
        const body = Buffer.allocUnsafe(length)
        const take = end - i
        chunk.copy(body, 0, i, end)
        i = end
        this.body = body
        this.bodyFilled = take
      }
    }
  }

  private readLength(source: Buffer, at: number): number {
    const high = source.readUInt32LE(at + 4)
    const length = high * TWO_32 + source.readUInt32LE(at)
    if (length > this.maxFrameBytes) {
      this.headerFilled = 0
      throw new FrameOverflow(length, this.maxFrameBytes)
    }
    return length
  }
}
