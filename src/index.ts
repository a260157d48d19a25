/**
 * liege — supervised worker processes for Effect.
 */
export * as Supervisor from "./supervisor/index.ts"
export * as Wire from "./wire/index.ts"
