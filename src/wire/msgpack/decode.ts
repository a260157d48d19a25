/**
 * MessagePack reading (SPEC §1), in one pass: the formats the encoder
 * writes, and a refusal for what cannot be given to JSON callers exactly —
 * an integer beyond ±(2^53 − 1), a `bin`, a non-finite float, a `str` that
 * is not valid UTF-8, a map key that is not a string, and every extension
 * type (liege speaks plain MessagePack).
 *
 * This module does not load Effect: the worker SDK uses it too.
 */
import { isUtf8 } from "node:buffer"
import { DecodeFailure, isStackOverflow, Refusal, refusalText, through } from "../plain.ts"

// Buffer's own slicers: no argument checking, the bounds are ours.
interface Slicing {
  latin1Slice(start: number, end: number): string
  utf8Slice(start: number, end: number): string
}

const TWO_32 = 4294967296
/** Every high word of a safe 64-bit integer lies in [-2^21, 2^21). */
const HIGH_SAFE = 0x200000


const EMPTY = Buffer.alloc(0)
let data: Buffer = EMPTY
let at = 0
let end = 0

const need = (n: number) => {
  if (end - at < n) throw new Refusal(`truncated: ${n} more bytes needed at offset ${at}, ${end - at} left`)
}

const unsafeInteger = (text: string) => new Refusal(`integer ${text} is beyond ±(2^53−1)`)

const finite = (v: number): number => {
  if (Number.isFinite(v)) return v
  throw new Refusal(`${v} cannot be given to JSON callers (not a finite number)`)
}

const malformed = () => new Refusal("a str is not valid UTF-8")

/** UTF-8 of a short str, checked as it is decoded (no overlongs, no surrogates, nothing past U+10FFFF). */
const units: Array<number> = []
const shortUtf8 = (start: number, stop: number): string => {
  units.length = 0
  let i = start
  while (i < stop) {
    const b = data[i++]!
    if (b < 0x80) {
      units.push(b)
    } else if (b < 0xc2) {
      throw malformed()
    } else if (b < 0xe0) {
      const c1 = i < stop ? data[i++]! : 0
      if ((c1 & 0xc0) !== 0x80) throw malformed()
      units.push(((b & 0x1f) << 6) | (c1 & 0x3f))
    } else if (b < 0xf0) {
      if (stop - i < 2) throw malformed()
      const c1 = data[i++]!
      const c2 = data[i++]!
      if ((c1 & 0xc0) !== 0x80 || (c2 & 0xc0) !== 0x80) throw malformed()
      const u = ((b & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f)
      if (u < 0x800 || (u >= 0xd800 && u <= 0xdfff)) throw malformed()
      units.push(u)
    } else if (b < 0xf5) {
      if (stop - i < 3) throw malformed()
      const c1 = data[i++]!
      const c2 = data[i++]!
      const c3 = data[i++]!
      if ((c1 & 0xc0) !== 0x80 || (c2 & 0xc0) !== 0x80 || (c3 & 0xc0) !== 0x80) throw malformed()
      const u = ((b & 0x07) << 18) | ((c1 & 0x3f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f)
      if (u < 0x10000 || u > 0x10ffff) throw malformed()
      units.push(0xd800 | ((u - 0x10000) >> 10), 0xdc00 | ((u - 0x10000) & 0x3ff))
    } else {
      throw malformed()
    }
  }
  return String.fromCharCode.apply(null, units)
}

// Short ASCII strings repeat from message to message (map keys, tags): one is
// looked up by a hash of its bytes and compared byte for byte, so the same
// text is made once.
const KNOWN_SLOTS = 4096
const KNOWN_LONGEST = 24
const known: Array<string> = new Array<string>(KNOWN_SLOTS).fill("")

const SHORT = 0x40

const readString = (n: number): string => {
  need(n)
  const start = at
  const stop = at + n
  at = stop
  if (n <= KNOWN_LONGEST) {
    let h = n
    for (let i = start; i < stop; i++) {
      const b = data[i]!
      if (b >= 0x80) return shortUtf8(start, stop)
      h = (Math.imul(h, 31) + b) | 0
    }
    const slot = h & (KNOWN_SLOTS - 1)
    const seen = known[slot]!
    if (seen.length === n) {
      let j = 0
      while (j < n && seen.charCodeAt(j) === data[start + j]) j++
      if (j === n) return seen
    }
    return (known[slot] = (data as unknown as Slicing).latin1Slice(start, stop))
  }
  if (n < SHORT) return shortUtf8(start, stop)
  if (!isUtf8(data.subarray(start, stop))) throw malformed()
  return (data as unknown as Slicing).utf8Slice(start, stop)
}

const readArray = (n: number): Array<unknown> => {
  if (n > end - at) need(n) // every item takes a byte at least: nothing is allocated for a lie
  const out = new Array<unknown>(n)
  let i = 0
  try {
    for (; i < n; i++) out[i] = read()
  } catch (e) {
    throw through(e, i)
  }
  return out
}

const readKey = (): string => {
  need(1)
  const b = data[at++]!
  if (b >= 0xa0 && b < 0xc0) return readString(b & 0x1f)
  if (b === 0xd9) {
    need(1)
    return readString(data[at++]!)
  }
  if (b === 0xda) {
    need(2)
    at += 2
    return readString(data.readUInt16BE(at - 2))
  }
  if (b === 0xdb) {
    need(4)
    at += 4
    return readString(data.readUInt32BE(at - 4))
  }
  at--
  throw new Refusal(`a map key is not a string (format 0x${b.toString(16)}): JSON objects have string keys`)
}

const readMap = (n: number): Record<string, unknown> => {
  if (n * 2 > end - at) need(n * 2)
  const out: Record<string, unknown> = {}
  let key = ""
  for (let i = 0; i < n; i++) {
    key = readKey()
    let item: unknown
    try {
      item = read()
    } catch (e) {
      throw through(e, key)
    }
    if (key === "__proto__") Object.defineProperty(out, key, { value: item, writable: true, enumerable: true, configurable: true })
    else out[key] = item
  }
  return out
}

const extension = (lengthBytes: number) => {
  need(lengthBytes + 1)
  const type = data.readInt8(at + lengthBytes)
  return new Refusal(`extension type ${type} is not plain MessagePack (liege takes no extension types)`)
}

const read = (): unknown => {
  if (at >= end) need(1)
  const b = data[at++]!
  if (b < 0x80) return b
  if (b >= 0xe0) return b - 0x100
  if (b < 0x90) return readMap(b & 0x0f)
  if (b < 0xa0) return readArray(b & 0x0f)
  if (b < 0xc0) return readString(b & 0x1f)
  switch (b) {
    case 0xc0:
      return null
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xc4:
    case 0xc5:
    case 0xc6:
      throw new Refusal("bin values cannot be given to JSON callers (send text, e.g. base64)")
    case 0xc7:
      throw extension(1)
    case 0xc8:
      throw extension(2)
    case 0xc9:
      throw extension(4)
    case 0xca: {
      need(4)
      at += 4
      return finite(data.readFloatBE(at - 4))
    }
    case 0xcb: {
      need(8)
      at += 8
      return finite(data.readDoubleBE(at - 8))
    }
    case 0xcc:
      need(1)
      return data[at++]!
    case 0xcd:
      need(2)
      at += 2
      return (data[at - 2]! << 8) | data[at - 1]!
    case 0xce:
      need(4)
      at += 4
      return ((data[at - 4]! << 24) | (data[at - 3]! << 16) | (data[at - 2]! << 8) | data[at - 1]!) >>> 0
    case 0xcf: {
      need(8)
      const high = data.readUInt32BE(at)
      if (high >= HIGH_SAFE) throw unsafeInteger(data.readBigUInt64BE(at).toString())
      at += 8
      return high * TWO_32 + data.readUInt32BE(at - 4)
    }
    case 0xd0:
      need(1)
      return data.readInt8(at++)
    case 0xd1:
      need(2)
      at += 2
      return data.readInt16BE(at - 2)
    case 0xd2:
      need(4)
      at += 4
      return data.readInt32BE(at - 4)
    case 0xd3: {
      need(8)
      const high = data.readInt32BE(at)
      const v = high * TWO_32 + data.readUInt32BE(at + 4)
      if (high >= HIGH_SAFE || high < -HIGH_SAFE || !Number.isSafeInteger(v)) {
        throw unsafeInteger(data.readBigInt64BE(at).toString())
      }
      at += 8
      return v
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      throw extension(0)
    case 0xd9:
      need(1)
      return readString(data[at++]!)
    case 0xda:
      need(2)
      at += 2
      return readString(data.readUInt16BE(at - 2))
    case 0xdb:
      need(4)
      at += 4
      return readString(data.readUInt32BE(at - 4))
    case 0xdc:
      need(2)
      at += 2
      return readArray(data.readUInt16BE(at - 2))
    case 0xdd:
      need(4)
      at += 4
      return readArray(data.readUInt32BE(at - 4))
    case 0xde:
      need(2)
      at += 2
      return readMap(data.readUInt16BE(at - 2))
    case 0xdf:
      need(4)
      at += 4
      return readMap(data.readUInt32BE(at - 4))
  }
  at--
  throw new Refusal("byte 0xc1 is never used in MessagePack")
}

/** Exactly one value from a MessagePack payload; throws `DecodeFailure` saying why not. */
export const decode = (payload: Buffer): unknown => {
  data = payload
  at = 0
  end = payload.length
  try {
    const value = read()
    if (at !== end) throw new Refusal(`${end - at} bytes follow the value`)
    return value
  } catch (e) {
    if (e instanceof Refusal) throw new DecodeFailure(refusalText(e), payload)
    if (isStackOverflow(e)) throw new DecodeFailure("nested too deeply", payload)
    throw e
  } finally {
    data = EMPTY
  }
}
