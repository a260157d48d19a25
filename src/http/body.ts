/**
 * A request body as JSON, refused at the edge unless it can travel exactly
 * (SPEC §1, §8): at most `maxBody` bytes (413), not empty, valid UTF-8, no
 * string with a lone surrogate (`"\ud800"`), arrays and objects nested at
 * most `maxDepth` deep (`[]` and `{}` are depth 1), and JSON (400 for each).
 * All of it is checked before `JSON.parse` and before any worker or log
 * sees the body.
 */
import { isUtf8 } from "node:buffer"
import type * as http from "node:http"
import { errorResponse, type Response } from "./response.ts"

export interface BodyLimits {
  readonly maxBody: number
  readonly maxDepth: number
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const OPEN_OBJECT = 0x7b
const CLOSE_ARRAY = 0x5d
const CLOSE_OBJECT = 0x7d
const LOWER_U = 0x75

const hexValue = (bytes: Uint8Array, at: number): number => {
  let v = 0
  for (let k = at; k < at + 4; k++) {
    const c = bytes[k]!
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1
    if (d < 0) return -1
    v = v * 16 + d
  }
  return v
}

/**
 * One pass over the bytes of (possibly invalid) JSON text: the deepest
 * nesting outside strings, and whether a `\u` escape leaves a surrogate
 * unpaired. Malformed text is left for `JSON.parse` to name.
 */
export const scan = (bytes: Uint8Array, maxDepth: number): "deep" | "surrogate" | undefined => {
  let depth = 0
  const n = bytes.length
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return "deep"
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--
    } else if (c === QUOTE) {
      // a string: skip to its closing quote, checking \u escapes for surrogates
      for (i++; i < n; i++) {
        const s = bytes[i]!
        if (s === QUOTE) break
        if (s !== BACKSLASH) continue
        i++
        if (bytes[i] !== LOWER_U) continue
        const unit = hexValue(bytes, i + 1)
        i += 4
        if (unit < 0xd800 || unit > 0xdfff) continue
        if (unit >= 0xdc00) return "surrogate"
        // a high surrogate must be followed by an escaped low one
        const next = bytes[i + 1] === BACKSLASH && bytes[i + 2] === LOWER_U ? hexValue(bytes, i + 3) : -1
        if (next < 0xdc00 || next > 0xdfff) return "surrogate"
        i += 6
      }
    }
  }
  return undefined
}

/** A body that can travel: its JSON value and its text. */
export interface Body {
  readonly value: unknown
  readonly text: string
}

/** Checks a body's bytes; the JSON value and its text, or the response that refuses it. */
export const checkJson = (bytes: Buffer, maxDepth: number): Body | Response => {
  if (bytes.length === 0) return empty
  if (!isUtf8(bytes)) return errorResponse(400, "BadBody", "the body is not valid UTF-8")
  const text = bytes.toString("utf8")
  if (text.trim() === "") return empty
  const found = scan(bytes, maxDepth)
  if (found === "deep") {
    return errorResponse(400, "BadBody", `the body nests arrays and objects deeper than ${maxDepth} (--max-depth)`)
  }
  if (found === "surrogate") {
    return errorResponse(400, "BadBody", "the body holds a string that is not valid Unicode (a lone surrogate escape)")
  }
  try {
    return { value: JSON.parse(text), text }
  } catch (e) {
    return errorResponse(400, "BadBody", `the body is not JSON: ${(e as Error).message}`)
  }
}

const empty = errorResponse(400, "BadBody", "the body is empty; send JSON")

/** Whether a checked body is the response that refuses it. */
export const isRefusal = (checked: Body | Response): checked is Response => "status" in checked

/** No body at all (no `Content-Length`, no `Transfer-Encoding`). */
export const NO_BODY: Buffer = Buffer.alloc(0)

const tooLarge = (maxBody: number) => errorResponse(413, "BodyTooLarge", `the body is larger than ${maxBody} bytes (--max-body)`)

/**
 * Reads a request's body, at most `maxBody` bytes, and gives it to `done`
 * once: its bytes, or the response that refuses it — 413 at once when the
 * declared length or the bytes so far pass `maxBody` (the rest is read and
 * dropped), 400 when it cannot be read (the client went away). Plain
 * listeners on the request: no fiber waits for a body.
 */
export const collect = (source: http.IncomingMessage, maxBody: number, done: (body: Buffer | Response) => void): void => {
  if (Number(source.headers["content-length"] ?? NaN) > maxBody) {
    source.resume()
    return done(tooLarge(maxBody))
  }
  let first: Buffer | undefined
  let chunks: Array<Buffer> | undefined
  let size = 0
  let settled = false
  source.on("data", (c: Buffer) => {
    if (settled) return
    size += c.length
    if (size > maxBody) {
      // the rest flows on into this listener and is dropped
      settled = true
      first = chunks = undefined
      return done(tooLarge(maxBody))
    }
    if (first === undefined) first = c
    else (chunks ??= [first]).push(c)
  })
  source.on("end", () => {
    if (settled) return
    settled = true
    done(chunks !== undefined ? Buffer.concat(chunks, size) : first ?? NO_BODY)
  })
  source.on("error", (e) => {
    if (settled) return
    settled = true
    done(errorResponse(400, "BadBody", `cannot read the body: ${e.message}`))
  })
}
