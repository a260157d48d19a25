/**
 * The pool's public face (SPEC §5, §11): what `make` returns, and the
 * options of its calls. The pool itself is ./pool.ts.
 */
import type { Effect, Stream } from "effect"
import type { ReloadFailed } from "../errors.ts"
import type * as Status from "../status/document.ts"
import type { SpawnFailed } from "../supervisor/errors.ts"
import type { PoolError, PoolFailed } from "./errors.ts"
import type { Reloaded } from "./reload.ts"
import type { Answer } from "./request.ts"
import type * as View from "./view.ts"

export interface PoolHooks {
  /** A request was accepted (queued or sent), under this id. */
  readonly onAccept?: ((id: number) => void) | undefined
  /** Every answer: the request, its outcome ("ok" or an error tag), the time since acceptance in ms. */
  readonly onAnswer?: ((id: number, outcome: string, ms: number) => void) | undefined
  /** The caller left before the answer: the request was dropped from the queue or cancelled on its worker. */
  readonly onCancel?: ((id: number) => void) | undefined
}

/** A streaming answer's parts (SPEC §5): the worker's chunks, then its `ok` value. */
export type StreamPart =
  | { readonly _tag: "Chunk"; readonly data: unknown }
  | { readonly _tag: "Done"; readonly value: unknown }

export interface CallOptions {
  /** The payload's JSON text as the caller was given it: with the json codec it is written as it is (SPEC §1). */
  readonly text?: string | undefined
  /** The caller's W3C traceparent, sent as the request's `trace`. */
  readonly traceparent?: string | undefined
}

export interface StreamOptions {
  /** Chunks the worker may send ahead of the consumer (default 16). */
  readonly credit?: number | undefined
}

export interface Pool {
  /** One request: the worker's `ok` value, or a tagged error. */
  readonly submit: (payload: unknown) => Effect.Effect<unknown, PoolError>
  /**
   * `submit` without a fiber, for a caller on a hot path outside Effect (the
   * HTTP front): `done` is called exactly once, with the worker's `ok` value
   * or the error; the function returned cancels the request (as an
   * interrupted `submit` does), or the error is returned at once when the
   * request is refused. Not traced beyond `options.traceparent`.
   */
  readonly call: (payload: unknown, done: (answer: Answer) => void, options?: CallOptions) => (() => void) | PoolError
  /**
   * One request with a streaming answer (SPEC §5): its chunks as they come,
   * then its `Done` value. A slow consumer slows the worker (credit), rather
   * than filling memory; ending the stream early cancels the request.
   */
  readonly stream: (payload: unknown, options?: StreamOptions) => Stream.Stream<StreamPart, PoolError>
  /** At least one worker is ready and the pool has not failed. */
  readonly ready: () => boolean
  /** `ready`, or why not (the failed pool's next try, workers booting): SPEC §8 `/readyz`. */
  readonly readiness: () => Status.Readiness
  /** The status document (SPEC §10) now: slots, queue, rates, answers, restarts, recycles, recent errors. */
  readonly view: () => Status.PoolStatus
  /** `view`, as an Effect. */
  readonly status: Effect.Effect<Status.PoolStatus>
  /** What the pool counts on its hot path (read by `view` and `/metrics`). */
  readonly counters: View.PoolCounters
  /** The live workers' pids (for tests and diagnostics). */
  readonly pids: () => ReadonlyArray<number>
  /** Completes when the pool is failed: at once if it is now, else at its next failure. */
  readonly failed: Effect.Effect<PoolFailed>
  /**
   * Replaces every worker with a new one of the same command, one slot at a
   * time, each new worker ready before the old one is let go (SPEC §5
   * Reload); joins a reload under way. Fails with `ReloadFailed` (the old
   * workers go on serving) if a new worker fails its boot.
   */
  readonly reload: Effect.Effect<Reloaded, ReloadFailed>
  /**
   * Completes once a worker has been ready; fails as soon as it is clear
   * none will be: its command cannot be spawned (`SpawnFailed`: not found,
   * not executable), or the pool failed first (`PoolFailed`).
   */
  readonly whenReady: Effect.Effect<void, PoolFailed | SpawnFailed>
  /**
   * Stops taking requests, answers those accepted within `drainMs` (the rest
   * get `ShuttingDown`), then stops every worker, in parallel.
   */
  readonly shutdown: (drainMs: number) => Effect.Effect<void>
}
