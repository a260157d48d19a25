/**
 * serf — the event-sourced worker and the host's flows (SPEC §2).
 */
export type { WorkAnswer } from "./window.ts"
export * from "./errors.ts"
export {
  type PlayResult,
  type ReplayEvent,
  type ReplayProgress,
  type Serf,
  type SerfHooks,
  start,
  type SwimEffect
} from "./host.ts"
export { SerfOptions } from "./options.ts"
export * as Protocol from "./protocol.ts"
