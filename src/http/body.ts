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
import { Effect } from "effect"
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

/** Checks a body's bytes; the JSON value and its text, or the response that refuses it. */
export const checkJson = (
  bytes: Buffer,
  maxDepth: number
): { readonly value: unknown; readonly text: string } | Response => {
  if (!isUtf8(bytes)) return errorResponse(400, "BadBody", "the body is not valid UTF-8")
  const text = bytes.toString("utf8")
  if (text.trim() === "") return errorResponse(400, "BadBody", "the body is empty; send JSON")
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

const isResponse = (u: object): u is Response => "status" in u && "contentType" in u

/** Reads and checks a JSON body of at most `maxBody` bytes. */
export const readJson = (
  source: http.IncomingMessage,
  limits: BodyLimits
): Effect.Effect<{ readonly value: unknown; readonly text: string }, Response> =>
  Effect.suspend(() => {
    const tooLarge = errorResponse(413, "BodyTooLarge", `the body is larger than ${limits.maxBody} bytes (--max-body)`)
    if (Number(source.headers["content-length"] ?? NaN) > limits.maxBody) {
      source.resume()
      return Effect.fail(tooLarge)
    }
    return Effect.callback<Buffer, Response>((resume) => {
      const chunks: Array<Buffer> = []
      let size = 0
      source.on("data", (c: Buffer) => {
        size += c.length
        if (size > limits.maxBody) {
          source.removeAllListeners("data")
          source.resume()
          return resume(Effect.fail(tooLarge))
        }
        chunks.push(c)
      })
      source.on("end", () => resume(Effect.succeed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))))
      source.on("error", (e) => resume(Effect.fail(errorResponse(400, "BadBody", `cannot read the body: ${e.message}`))))
    }).pipe(
      Effect.flatMap((bytes) => {
        const checked = checkJson(bytes, limits.maxDepth)
        return isResponse(checked) ? Effect.fail(checked) : Effect.succeed(checked)
      })
    )
  })
