/**
 * MessagePack (SPEC §1) for plain data, both ways, in one pass each: the
 * writer (./msgpack/encode.ts) and the reader (./msgpack/decode.ts).
 *
 * This module does not load Effect: the worker SDK uses it too.
 */
export { frame } from "./msgpack/encode.ts"
export { decode } from "./msgpack/decode.ts"
