/**
 * wire — length-prefixed frames, JSON and MessagePack codecs, and a typed
 * channel over a supervised process (SPEC §1).
 */
export { type Channel, type ChannelOptions, open } from "./channel.ts"
export { type Codec, codec, type CodecName, codecNames, DecodeFailure, EncodeFailure, json, msgpack } from "./codec.ts"
export { BadMessage, ConnectionClosed, FrameTooLarge, NotEncodable, type ProtocolError } from "./errors.ts"
export { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder, FrameOverflow, HEADER_BYTES } from "./frame.ts"
export { attach, type Link, type LinkHandlers, type LinkOptions } from "./link.ts"
export { Slog } from "./slog.ts"
