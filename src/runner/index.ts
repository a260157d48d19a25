/**
 * runner — durable per-session queued work (SPEC §7).
 */
export { make, type Runner, RunnerOptions, type RunnerStats, RunnerStoreError, Service } from "./runner.ts"
export type { Job, JobState } from "./store.ts"
