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
  type PierState,
  type PierStats,
  type PierSnapshot,
  type PokeAnswer,
  type PokeError,
  type ReplayStatus,
  type RestartRecord,
  Service
} from "./pier.ts"
