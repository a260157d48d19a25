/**
 * pool — N request/response workers (SPEC §5).
 */
export * from "./errors.ts"
export { make, type Pool, type PoolHooks, PoolOptions, type PoolStats, type PoolSnapshot, Service, type SlotSnapshot, type SlotState } from "./pool.ts"
export * as Protocol from "./protocol.ts"
