/**
 * Message codecs (SPEC §1): `json` (UTF-8 JSON, the one every worker speaks)
 * and `msgpack` (standard MessagePack: plain maps, no extension types, no
 * records). A codec turns one message into one frame and one payload back
 * into one message.
 */
import { Packr } from "msgpackr"
import { encodeFrame, HEADER_BYTES, writeHeader } from "./frame.ts"

export type CodecName = "json" | "msgpack"
export const codecNames: ReadonlyArray<CodecName> = ["json", "msgpack"]

export interface Codec {
  readonly name: CodecName
  /** The whole frame (header + payload) for one message. */
  readonly frame: (message: unknown) => Buffer
  /** One payload back to a value; throws `DecodeFailure` when the bytes are not one. */
  readonly decode: (payload: Buffer) => unknown
}

/** Thrown by `decode` when a payload does not decode. */
export class DecodeFailure {
  readonly reason: string
  readonly payload: Uint8Array
  constructor(reason: string, payload: Uint8Array) {
    this.reason = reason
    this.payload = payload
  }
}

/** A message already written as JSON text: the json codec frames it as it is. */
export class RawJson {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

export const json: Codec = {
  name: "json",
  frame: (message) => {
    const text = message instanceof RawJson ? message.text : JSON.stringify(message)
    const length = Buffer.byteLength(text)
    const out = Buffer.allocUnsafe(HEADER_BYTES + length)
    writeHeader(out, length)
    // as many bytes as characters: ASCII, where latin1 is the same bytes and a faster copy
    out.write(text, HEADER_BYTES, length === text.length ? "latin1" : "utf8")
    return out
  },
  decode: (payload) => {
    try {
      return JSON.parse(payload.toString("utf8"))
    } catch (e) {
      throw new DecodeFailure(`not JSON (${(e as Error).message})`, payload)
    }
  }
}

// `skipValues` is a documented option missing from msgpackr's type declarations.
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  moreTypes: false,
  skipValues: [undefined],
  encodeUndefinedAsNil: true,
  copyBuffers: true,
  int64AsType: "number"
} as ConstructorParameters<typeof Packr>[0])

export const msgpack: Codec = {
  name: "msgpack",
  frame: (message) => {
    return encodeFrame(packr.pack(message))
  },
  decode: (payload) => {
    try {
      return packr.unpack(payload)
    } catch (e) {
      throw new DecodeFailure(`not MessagePack (${(e as Error).message})`, payload)
    }
  }
}

export const codec = (name: CodecName): Codec => name === "json" ? json : msgpack
