/**
 * pier — a serf and its durable event log (SPEC §3).
 */
export * from "./errors.ts"
export { fileLeftover, LEFTOVER_FILE, type Leftover } from "./leftover.ts"
export { type LoggedEvent, PIER_VERSION, type PierLog } from "./log.ts"
export { openSqlite, type SqliteStorage } from "./sqlite.ts"
export {
  open,
  openWith,
  type Pier,
  type PierFatal,
  type PierHooks,
  PierOptions,
  type PierState,
  type PierCounters,
  type PokeAnswer,
  type PokeError,
  type Reloaded,
  type ReplayStatus,
  Service
} from "./pier.ts"
