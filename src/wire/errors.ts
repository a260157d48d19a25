/**
 * Wire protocol errors (SPEC §1). Every one is a tagged error whose message
 * says what happened and what the peer sent.
 */
import { Schema } from "effect"

/** A frame header announced more bytes than the channel accepts. Nothing was allocated for it. */
export class FrameTooLarge extends Schema.TaggedError<FrameTooLarge>()("FrameTooLarge", {
  length: Schema.Number,
  max: Schema.Number
}) {
  override get message() {
    return `frame of ${this.length} bytes exceeds the limit of ${this.max} bytes (maxFrameBytes)`
  }
}

/** The byte stream ended inside a frame (or the peer went away while an answer was owed). */
export class ConnectionClosed extends Schema.TaggedError<ConnectionClosed>()("ConnectionClosed", {
  pending: Schema.Number,
  detail: Schema.String
}) {
  override get message() {
    return this.pending > 0
      ? `connection closed inside a frame (${this.pending} bytes of an incomplete frame): ${this.detail}`
      : `connection closed: ${this.detail}`
  }
}

/** A frame that does not decode to a known message. `bytes` is a truncated copy of the payload. */
export class BadMessage extends Schema.TaggedError<BadMessage>()("BadMessage", {
  reason: Schema.String,
  length: Schema.Number,
  bytes: Schema.Uint8Array
}) {
  override get message() {
    const shown = Buffer.from(this.bytes).toString("utf8").replace(/[^\x20-\x7e]/g, ".")
    const more = this.length > this.bytes.length ? `… (${this.length} bytes)` : ""
    return `bad message: ${this.reason}; payload ${JSON.stringify(shown)}${more}`
  }
}

export type ProtocolError = FrameTooLarge | ConnectionClosed | BadMessage

/**
 * A message we were to send cannot travel exactly (SPEC §1: a lone
 * surrogate, a number that is not finite, a BigInt, bytes, a Map…). Nothing
 * was sent; the channel is unharmed.
 */
export class NotEncodable extends Schema.TaggedError<NotEncodable>()("NotEncodable", {
  reason: Schema.String
}) {
  override get message() {
    return `the message cannot be encoded exactly (${this.reason}); nothing was sent`
  }
}

/** How many payload bytes a BadMessage keeps. */
export const BAD_MESSAGE_KEEP = 256

export const badMessage = (reason: string, payload: Uint8Array): BadMessage =>
  new BadMessage({ reason, length: payload.length, bytes: payload.slice(0, BAD_MESSAGE_KEEP) })
