/**
 * MessagePack writing (SPEC §1) for plain data, in one pass: every safe
 * integer (|n| ≤ 2^53 − 1) is a MessagePack integer in the smallest int/uint
 * format that holds it, every other finite number a float64; strings are
 * UTF-8 `str`, arrays `array`, plain objects `map` with string keys.
 * Anything else (see ../plain.ts) is refused on the way.
 *
 * This module does not load Effect: the worker SDK uses it too.
 */
import { HEADER_BYTES, writeHeader } from "../frame.ts"
import { encodeFailure, isPlainObject, notText, refusalOf, through } from "../plain.ts"

const TWO_32 = 4294967296

const SCRATCH_BYTES = 64 * 1024
/** A scratch grown past this for one big message is dropped after it. */
const SCRATCH_KEEP = 1024 * 1024
/** Room always left for one scalar (at most 9 bytes) without a check. */
const SLACK = 16

let target: Buffer = Buffer.allocUnsafe(SCRATCH_BYTES)
let view: DataView = new DataView(target.buffer, target.byteOffset, target.byteLength)
let safeEnd = target.length - SLACK
let pos = 0

const setScratch = (next: Buffer) => {
  target = next
  view = new DataView(next.buffer, next.byteOffset, next.byteLength)
  safeEnd = next.length - SLACK
}

/** Makes room for `n` more bytes (plus the slack). */
const room = (n: number) => {
  if (pos + n <= safeEnd) return
  const bigger = Buffer.allocUnsafe(Math.max(target.length * 2, pos + n + SLACK))
  target.copy(bigger, 0, 0, pos)
  setScratch(bigger)
}

const writeNumber = (v: number) => {
  if (v >>> 0 === v) {
    if (v < 0x80) {
      target[pos++] = v
    } else if (v < 0x100) {
      target[pos++] = 0xcc
      target[pos++] = v
    } else if (v < 0x10000) {
      target[pos++] = 0xcd
      target[pos++] = v >>> 8
      target[pos++] = v & 0xff
    } else {
      target[pos++] = 0xce
      view.setUint32(pos, v)
      pos += 4
    }
  } else if ((v | 0) === v) {
    if (v >= -0x20) {
      target[pos++] = v & 0xff
    } else if (v >= -0x80) {
      target[pos++] = 0xd0
      target[pos++] = v & 0xff
    } else if (v >= -0x8000) {
      target[pos++] = 0xd1
      view.setInt16(pos, v)
      pos += 2
    } else {
      target[pos++] = 0xd2
      view.setInt32(pos, v)
      pos += 4
    }
  } else if (Number.isSafeInteger(v)) {
    // beyond 32 bits: uint64 when positive, int64 when negative (the only ones that hold it)
    const high = Math.floor(v / TWO_32)
    target[pos++] = v > 0 ? 0xcf : 0xd3
    view.setInt32(pos, high)
    view.setUint32(pos + 4, v - high * TWO_32)
    pos += 8
  } else if (Number.isFinite(v)) {
    target[pos++] = 0xcb
    view.setFloat64(pos, v)
    pos += 8
  } else {
    throw refusalOf(v)
  }
}

/** A `str`; short strings are encoded here, long ones by Buffer once checked. */
const writeString = (s: string) => {
  const n = s.length
  if (n < 0x40) {
    room(5 + n * 3)
    const start = pos
    // a header guessed from the length, moved if the bytes need a longer one
    let p = start + (n < 0x20 ? 1 : 2)
    const body = p
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c < 0x80) {
        target[p++] = c
      } else if (c < 0x800) {
        target[p++] = 0xc0 | (c >> 6)
        target[p++] = 0x80 | (c & 0x3f)
      } else if (c < 0xd800 || c > 0xdfff) {
        target[p++] = 0xe0 | (c >> 12)
        target[p++] = 0x80 | ((c >> 6) & 0x3f)
        target[p++] = 0x80 | (c & 0x3f)
      } else {
        const d = c <= 0xdbff ? s.charCodeAt(i + 1) : 0
        if (!(d >= 0xdc00 && d <= 0xdfff)) throw notText(s)
        i++
        const u = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        target[p++] = 0xf0 | (u >> 18)
        target[p++] = 0x80 | ((u >> 12) & 0x3f)
        target[p++] = 0x80 | ((u >> 6) & 0x3f)
        target[p++] = 0x80 | (u & 0x3f)
      }
    }
    const length = p - body
    if (length < 0x20) {
      target[start] = 0xa0 | length
    } else {
      if (body === start + 1) target.copyWithin(start + 2, body, p)
      target[start] = 0xd9
      target[start + 1] = length
    }
    pos = start + (length < 0x20 ? 1 : 2) + length
    return
  }
  if (!s.isWellFormed()) throw notText(s)
  const length = Buffer.byteLength(s, "utf8")
  room(5 + length)
  if (length < 0x100) {
    target[pos++] = 0xd9
    target[pos++] = length
  } else if (length < 0x10000) {
    target[pos++] = 0xda
    target[pos++] = length >>> 8
    target[pos++] = length & 0xff
  } else {
    target[pos++] = 0xdb
    view.setUint32(pos, length)
    pos += 4
  }
  pos += target.write(s, pos, length, "utf8")
}

const writeArray = (a: ReadonlyArray<unknown>) => {
  const n = a.length
  if (n < 0x10) {
    target[pos++] = 0x90 | n
  } else if (n < 0x10000) {
    target[pos++] = 0xdc
    target[pos++] = n >>> 8
    target[pos++] = n & 0xff
  } else {
    target[pos++] = 0xdd
    view.setUint32(pos, n)
    pos += 4
  }
  let i = 0
  try {
    for (; i < n; i++) {
      const item = a[i]
      if (item === undefined) throw refusalOf(item)
      write(item)
    }
  } catch (e) {
    throw through(e, i)
  }
}

const writeMap = (o: object) => {
  // the count is known at the end: a fixmap header is reserved and widened if needed
  const head = pos++
  let count = 0
  let key = ""
  try {
    for (key in o) {
      const item = (o as Record<string, unknown>)[key]
      if (item === undefined) continue
      writeString(key)
      write(item)
      count++
    }
  } catch (e) {
    throw through(e, key)
  }
  if (count < 0x10) {
    target[head] = 0x80 | count
    return
  }
  const extra = count < 0x10000 ? 2 : 4
  room(extra)
  target.copyWithin(head + 1 + extra, head + 1, pos)
  pos += extra
  if (extra === 2) {
    target[head] = 0xde
    target[head + 1] = count >>> 8
    target[head + 2] = count & 0xff
  } else {
    target[head] = 0xdf
    view.setUint32(head + 1, count)
  }
}

const write = (v: unknown): void => {
  if (pos > safeEnd) room(SLACK)
  switch (typeof v) {
    case "string":
      return writeString(v)
    case "number":
      return writeNumber(v)
    case "boolean":
      target[pos++] = v ? 0xc3 : 0xc2
      return
    case "object":
      if (v === null) {
        target[pos++] = 0xc0
        return
      }
      if (Array.isArray(v)) return writeArray(v)
      if (isPlainObject(v)) return writeMap(v)
  }
  throw refusalOf(v)
}

/** The whole frame (header + MessagePack payload) for one value; throws `EncodeFailure`. */
export const frame = (message: unknown): Buffer => {
  pos = HEADER_BYTES
  try {
    write(message)
  } catch (e) {
    throw encodeFailure(e)
  }
  const out = Buffer.allocUnsafe(pos)
  target.copy(out, 0, 0, pos)
  writeHeader(out, pos - HEADER_BYTES)
  if (target.length > SCRATCH_KEEP) setScratch(Buffer.allocUnsafe(SCRATCH_BYTES))
  return out
}

