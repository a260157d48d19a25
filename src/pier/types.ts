/**
 * What a pier answers (SPEC §3): an event's answer, the errors it can end
 * with, and what the pier is doing.
 */
import type { InvalidOptions } from "../errors.ts"
import type { ReplayDiverged, SerfIncompatible } from "../serf/errors.ts"
import type { Goof } from "../serf/protocol.ts"
import type { SpawnFailed } from "../supervisor/errors.ts"
import type {
  PierBootFailed,
  PierFenced,
  PierGaveUp,
  PierIo,
  PierMismatch,
  SerfPoisoned,
  ShuttingDown,
  Timeout
} from "./errors.ts"

export type PokeAnswer =
  | { readonly _tag: "Done"; readonly eve: number; readonly mug: number; readonly effects: ReadonlyArray<unknown> }
  | {
    readonly _tag: "Swap"
    readonly eve: number
    readonly mug: number
    readonly effects: ReadonlyArray<unknown>
    readonly ev: unknown
  }
  | { readonly _tag: "Bail"; readonly goofs: ReadonlyArray<Goof> }

/** Why a pier stopped for good. */
export type PierFatal =
  | ReplayDiverged
  | PierMismatch
  | PierGaveUp
  | PierBootFailed
  | PierIo
  | PierFenced
  | SpawnFailed
  | InvalidOptions
  | SerfIncompatible

export type PokeError = ShuttingDown | PierIo | SerfPoisoned | Timeout | PierFatal

export interface ReplayStatus {
  readonly done: number
  readonly total: number
  readonly eve: number
}

/** What the pier is doing. */
export type PierState =
  | { readonly _tag: "Booting" }
  | { readonly _tag: "Replaying"; readonly done: number; readonly total: number }
  | { readonly _tag: "Running" }
  /** Waiting for the next serf: `at` is when it is started (ms on the clock). */
  | { readonly _tag: "Restarting"; readonly at: number }
  | { readonly _tag: "Stopping" }
  | { readonly _tag: "Failed"; readonly reason: string }
