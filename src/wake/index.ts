/**
 * wake — the wake ladder (SPEC §6).
 */
export { make, Service, type WakeLadder, WakeLadderOptions } from "./ladder.ts"
