/**
 * pier — a serf and its durable event log (SPEC §3).
 */
export * from "./errors.ts"
export {
  open,
  type Pier,
  type PierFatal,
  type PierHooks,
  PierOptions,
  type PierStats,
  type PokeAnswer,
  type PokeError,
  type ReplayStatus,
  Service
} from "./pier.ts"
