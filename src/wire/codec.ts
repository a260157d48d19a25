/**
 * Message codecs (SPEC §1): `json` (UTF-8 JSON, the one every worker speaks)
 * and `msgpack` (standard MessagePack: plain maps, no extension types, no
 * records). A codec turns one message into one frame and one payload back
 * into one message, exactly or not at all (plain.ts): `frame` throws
 * `EncodeFailure` for a value that cannot travel exactly, `decode` throws
 * `DecodeFailure` for bytes that are not one exact value.
 */
import { isUtf8 } from "node:buffer"
import { HEADER_BYTES, writeHeader } from "./frame.ts"
import * as MessagePack from "./msgpack.ts"
import { checkFinite, checkShape, checkText, DecodeFailure, encodeFailure, EncodeFailure, notText, Refusal, refusalText } from "./plain.ts"

export { DecodeFailure, EncodeFailure }

export type CodecName = "json" | "msgpack"
export const codecNames: ReadonlyArray<CodecName> = ["json", "msgpack"]

export interface Codec {
  readonly name: CodecName
  /** The whole frame (header + payload) for one message; throws `EncodeFailure` when it cannot travel exactly. */
  readonly frame: (message: unknown) => Buffer
  /**
   * A worker's payload back to a value, as the host takes it; throws
   * `DecodeFailure` when the bytes are not one value that can be given to
   * JSON callers exactly.
   */
  readonly decode: (payload: Buffer) => unknown
  /**
   * A host's payload, as a worker takes it: the same, except that a JSON
   * number literal beyond the range of a double is read as ±Infinity — the
   * host writes JSON text it was given as it is (SPEC §1: such literals are
   * outside the promise), and a worker reads it as its language does.
   */
  readonly decodeFromHost: (payload: Buffer) => unknown
}

/** A message already written as JSON text: the json codec frames it as it is. */
export class RawJson {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

/**
 * Cheap look for a `\uD800`–`\uDFFF` escape in JSON text (JSON.stringify
 * writes one for each lone surrogate, other writers escape pairs too); only a
 * hit has the strings looked at one by one.
 */
const surrogateEscape = /\\u[dD][89abcdefABCDEF]/
const mayEscapeSurrogate = (text: string) => text.includes("\\u") && surrogateEscape.test(text)

const jsonText = (message: unknown): string => {
  try {
    if (message instanceof RawJson) {
      const text = message.text
      if (!text.isWellFormed()) throw notText(text)
      if (mayEscapeSurrogate(text)) checkText(JSON.parse(text))
      return text
    }
    checkShape(message)
    const text = JSON.stringify(message)
    if (text.includes("\\ud")) checkText(message)
    return text
  } catch (e) {
    throw encodeFailure(e)
  }
}

const jsonDecode = (payload: Buffer, finite: boolean): unknown => {
  if (!isUtf8(payload)) throw new DecodeFailure("not valid UTF-8", payload)
  const text = payload.toString("utf8")
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new DecodeFailure(`not JSON (${(e as Error).message})`, payload)
  }
  try {
    if (finite) checkFinite(value)
    if (mayEscapeSurrogate(text)) checkText(value)
  } catch (e) {
    if (e instanceof Refusal) throw new DecodeFailure(refusalText(e), payload)
    throw e
  }
  return value
}

export const json: Codec = {
  name: "json",
  frame: (message) => {
    const text = jsonText(message)
    const length = Buffer.byteLength(text)
    const out = Buffer.allocUnsafe(HEADER_BYTES + length)
    writeHeader(out, length)
    // as many bytes as characters: ASCII, where latin1 is the same bytes and a faster copy
    out.write(text, HEADER_BYTES, length === text.length ? "latin1" : "utf8")
    return out
  },
  decode: (payload) => jsonDecode(payload, true),
  decodeFromHost: (payload) => jsonDecode(payload, false)
}

export const msgpack: Codec = {
  name: "msgpack",
  frame: MessagePack.frame,
  decode: MessagePack.decode,
  // the host never writes a float that is not finite: both directions read alike
  decodeFromHost: MessagePack.decode
}

export const codec = (name: CodecName): Codec => name === "json" ? json : msgpack
