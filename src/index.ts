/**
 * liege — supervised worker processes for Effect.
 */
export * as Pier from "./pier/index.ts"
export * as Pool from "./pool/index.ts"
export * as RpcPool from "./rpc/index.ts"
export * as Runner from "./runner/index.ts"
export * as Serf from "./serf/index.ts"
export * as Supervisor from "./supervisor/index.ts"
export * as Wire from "./wire/index.ts"
export * as WakeLadder from "./wake/index.ts"
export { InvalidOptions, ShuttingDown } from "./errors.ts"
export * as Status from "./status/document.ts"
