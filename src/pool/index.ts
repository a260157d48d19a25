/**
 * pool — N request/response workers (SPEC §5).
 */
export * from "./errors.ts"
export { make, type Pool, type PoolHooks, PoolOptions, type PoolStats, type PoolStatus, Service, type SlotState, type SlotStatus } from "./pool.ts"
export * as Protocol from "./protocol.ts"
