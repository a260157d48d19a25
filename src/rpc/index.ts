/**
 * rpc — Effect RPC over supervised workers (SPEC §11), host side. The worker
 * side is `liege/worker/rpc`.
 */
export { Client, type ClientOptions, layerProtocol } from "./client.ts"
export { makeProtocol, type ProtocolOptions } from "./protocol.ts"
