/**
 * pool — N request/response workers (SPEC §5).
 */
export * from "./errors.ts"
export { make, type Pool, type PoolCounters, type PoolHooks, PoolOptions, Service, type SlotState } from "./pool.ts"
/** The worker protocol's messages (`ready`, `req`, `res`, `cancel`): `Pool.Messages`. */
export * as Messages from "./protocol.ts"
