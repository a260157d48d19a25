/**
 * What the pier is doing (SPEC §3), as plain state: the stage it is in
 * (booting, replaying, running, restarting, stopping, failed), the serf that
 * serves and its generation, and how it ended for good (fatal: it gave up;
 * lost: another writer claimed its log). Control requests wait here for a
 * serving serf; the pier's recent errors are kept here for its status.
 */
import { Deferred, Effect } from "effect"
import type { Serf } from "../serf/host.ts"
import type * as Status from "../status/document.ts"
import { type PierFenced, ShuttingDown } from "./errors.ts"
import type { Serving } from "./pending.ts"
import type { PierFatal, PierState, PokeError, ReplayStatus } from "./types.ts"

const RECENT_ERRORS = 20

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
  private waiters: Array<() => void> = []
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
