/**
 * What the pier is doing (SPEC §3), as plain state: the stage it is in
 * (booting, replaying, running, restarting, stopping, failed), the serf that
 * serves and its generation, and how it ended for good (fatal: it gave up;
 * lost: another writer claimed its log). Control requests wait here for a
 * serving serf; the pier's recent errors are kept here for its status.
 */
import { Deferred, Effect } from "effect"
import type { ReloadFailed } from "../errors.ts"
import type { Serf } from "../serf/host.ts"
import type * as Status from "../status/document.ts"
import { type PierFenced, ShuttingDown } from "./errors.ts"
import type { Serving } from "./pending.ts"
import type { PierFatal, PierState, PokeError, ReplayStatus } from "./types.ts"

const RECENT_ERRORS = 20

/** What a reload answers once the new serf serves (SPEC §8 `POST /v1/reload`). */
export interface Reloaded {
  readonly reloaded: 1
  /** The last event the old serf did: the new one serves from the next. */
  readonly eve: number
  /** The new serf's `LIEGE_GENERATION`. */
  readonly generation: number
}

/** A reload asked for: callers who ask while it stands join it. */
export interface ReloadRequest {
  readonly done: Deferred.Deferred<Reloaded, ReloadFailed>
  /** A serving generation runs it (it can no longer be refused from outside). */
  taken: boolean
}

export class Lifecycle {
  stage: PierState = { _tag: "Booting" }
  /** The serving serf (ripe, caught up) and its generation. */
  current: Serf | undefined = undefined
  currentGen = 0
  /** The pid of the generation's serf from its spawn on (booting and replaying too). */
  starting: number | undefined = undefined
  /** liege is stopping: no event is taken, no serf restarted. */
  closing = false
  /** The keeper stopped: no serf will serve again. */
  stopped = false
  /** Why the pier gave up, once it did. */
  fatal: PierFatal | undefined = undefined
  /** Another writer claimed the log: the pier is ending. */
  lost: PierFenced | undefined = undefined
  /** The last replay's progress. */
  replay: ReplayStatus
  /** The event of the last snapshot the serf started from or saved (0: none). */
  lastSnapshot = 0
  readonly errors: Array<Status.RecentError> = []
  readonly fatalSignal = Deferred.makeUnsafe<PierFatal>()
  /** The serving serf's `LIEGE_GENERATION` (a restart keeps it): 1, then the number of the reload it came from. */
  generation = 1
  /** The last `LIEGE_GENERATION` given: each reload attempt takes the next, whether or not it succeeds. */
  generationsGiven = 1
  /** The reload asked for or running, if any (its callers join it). */
  reload: ReloadRequest | undefined = undefined
  /** Reloads done (succeeded or failed), failed, the last one, and the one running: the status document's. */
  readonly reloads: {
    total: number
    failed: number
    last: Status.SerfReload["last"]
    running: Status.SerfReload["running"]
  } = { total: 0, failed: 0, last: null, running: null }
  private waiters: Array<() => void> = []
  private reloadWaiters: Array<() => void> = []
  private readonly now: () => number

  constructor(logged: number, now: () => number) {
    this.replay = { done: 0, total: 0, eve: logged }
    this.now = now
  }

  /** The serving serf, while its lock still runs. */
  serving(): Serf | undefined {
    const serf = this.current
    return serf !== undefined && serf.running() ? serf : undefined
  }

  /** The serf events go to now (none while none serves). */
  readonly servingNow = (): Serving | undefined =>
    this.current === undefined ? undefined : { serf: this.current, gen: this.currentGen }

  /** Why an event or a request is refused at once, if it is. */
  readonly refusal = (): PokeError | undefined => {
    const ended = this.fatal ?? this.lost
    if (ended !== undefined) return ended
    if (this.closing) return new ShuttingDown({ reason: "liege is stopping" })
    return undefined
  }

  /** Generation `gen`'s serf serves from now. */
  serve(serf: Serf, gen: number): void {
    this.current = serf
    this.currentGen = gen
    this.stage = { _tag: "Running" }
    this.wake()
  }

  noteError(tag: string, message: string): void {
    this.errors.push({ at: this.now(), tag, message })
    if (this.errors.length > RECENT_ERRORS) this.errors.shift()
  }

  /** Wakes whoever waits for a serf (to take it, or to be told there is none). */
  wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  /** The next serving serf (a serf whose lock ended is never handed out). */
  readonly awaitReady: Effect.Effect<Serf, PokeError> = Effect.callback<Serf, PokeError>((resume) => {
    const check = () => {
      const refusal = this.refusal()
      if (refusal !== undefined) return resume(Effect.fail(refusal))
      const serf = this.serving()
      if (serf !== undefined) return resume(Effect.succeed(serf))
      this.waiters.push(check)
    }
    check()
    return Effect.sync(() => {
      this.waiters = this.waiters.filter((w) => w !== check)
    })
  })

  /** The reload standing, or a new one (the serving generation is told). */
  askReload(): ReloadRequest {
    if (this.reload !== undefined) return this.reload
    const request: ReloadRequest = { done: Deferred.makeUnsafe(), taken: false }
    this.reload = request
    const waiters = this.reloadWaiters
    this.reloadWaiters = []
    for (const w of waiters) w()
    return request
  }

  /** The reload ended (it answered its callers): the next one asked is a new one. */
  reloadEnded(request: ReloadRequest): void {
    if (this.reload === request) this.reload = undefined
  }

  /** A reload asked for and not taken yet is refused with `error` (one running answers for itself). */
  refuseReload(error: ReloadFailed): void {
    const request = this.reload
    if (request === undefined || request.taken) return
    this.reload = undefined
    Deferred.doneUnsafe(request.done, Effect.fail(error))
  }

  /** Completes when a reload is asked for that no generation has taken yet (the caller takes it). */
  readonly awaitReload: Effect.Effect<ReloadRequest> = Effect.callback<ReloadRequest>((resume) => {
    const check = () => {
      const request = this.reload
      if (request !== undefined && !request.taken) return resume(Effect.succeed(request))
      this.reloadWaiters.push(check)
    }
    check()
    return Effect.sync(() => {
      this.reloadWaiters = this.reloadWaiters.filter((w) => w !== check)
    })
  })

  /** The pier gives up for good with `error`. */
  failed(error: PierFatal): void {
    this.fatal = error
    this.stopped = true
    this.current = undefined
    this.stage = { _tag: "Failed", reason: error.message }
    this.noteError(error._tag, error.message)
    this.wake()
    Deferred.doneUnsafe(this.fatalSignal, Effect.succeed(error))
  }
}
