/**
 * supervisor — one child process under an escalating coordinator (SPEC §4).
 */
export { type Child, spawn, SupervisorOptions } from "./child.ts"
export { InvalidOptions } from "../errors.ts"
export { SpawnFailed } from "./errors.ts"
export { isAlive, liveMembers } from "./group.ts"
export { Result, SentSignal, Termination } from "./result.ts"
