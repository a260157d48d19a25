/**
 * pool — N request/response workers (SPEC §5), as services of their own (SPEC §11).
 */
export * from "./errors.ts"
export { type Answer, type CallOptions, type Pool, type PoolCounters, type PoolHooks, PoolOptions, type SlotState, type StreamOptions, type StreamPart } from "./pool.ts"
export { make, type PoolInput, type PoolOf, type Schemas, Service, type ServiceOptions, type TypedPool } from "./service.ts"
/** The worker protocol's messages (`ready`, `req`, `res`, `cancel`, `chunk`, `credit`): `Pool.Messages`. */
export * as Messages from "./protocol.ts"
