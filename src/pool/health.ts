/**
 * The failed pool (SPEC §5), as a small machine: healthy ⇄ failed.
 *
 * More than `maxRestarts` failures within `restartWindow` fail the pool:
 * every waiting request, and every request while it stays failed, gets
 * `PoolFailed` at once. After a cool-down of `restartWindow` slot 1 tries
 * one worker (the others wait for the pool to be healthy); once that worker
 * is ready the pool is healthy again, else another cool-down starts.
 */
import { Deferred, Effect } from "effect"
import type { PoolFailed } from "./errors.ts"

export interface Failure {
  readonly error: PoolFailed
  /** Since when (ms on the clock). */
  readonly since: number
  /** When slot 1 tries a worker again. */
  nextTryAt: number
}

export class Health {
  /** Set while the pool is failed. */
  failure: Failure | undefined = undefined
  private readonly windowMs: number
  private failedSignal = Deferred.makeUnsafe<PoolFailed>()
  /** Done while the pool is not failed: the slots but the first wait on it. */
  private healthySignal = Deferred.makeUnsafe<void>()

  constructor(windowMs: number) {
    this.windowMs = windowMs
    Deferred.doneUnsafe(this.healthySignal, Effect.void)
  }

  /** Fails the pool at `now` with `error` (unless it is failed already). */
  fail(error: PoolFailed, now: number): void {
    if (this.failure !== undefined) return
    this.failure = { error, since: now, nextTryAt: now + this.windowMs }
    this.healthySignal = Deferred.makeUnsafe()
    Deferred.doneUnsafe(this.failedSignal, Effect.succeed(error))
  }

  /** A worker got ready: true when that ended a failure (slot 1's try worked). */
  recovered(): boolean {
    if (this.failure === undefined) return false
    this.failure = undefined
    this.failedSignal = Deferred.makeUnsafe()
    Deferred.doneUnsafe(this.healthySignal, Effect.void)
    return true
  }

  /** Slot 1's try did not get ready at `now`: another cool-down. */
  triedAt(now: number): void {
    if (this.failure !== undefined) this.failure.nextTryAt = now + this.windowMs
  }

  /** Waits until the pool is not failed. */
  readonly healthy: Effect.Effect<void> = Effect.suspend(() => Deferred.await(this.healthySignal))

  /** Completes when the pool is failed: at once if it is now, else at its next failure. */
  readonly failed: Effect.Effect<PoolFailed> = Effect.suspend(() =>
    this.failure !== undefined ? Effect.succeed(this.failure.error) : Deferred.await(this.failedSignal)
  )
}
