/**
 * Group commit (SPEC §3): an event's effects are released to its caller
 * only once the event is in the log.
 *
 * Answers from the serf wait in a batch; after each chunk of pleas read
 * from the serf the batch is committed in one transaction. A log that
 * appends synchronously (SQLite) commits right there; otherwise one commit
 * is in flight at a time, the answers that come meanwhile go in the next
 * one, and answers are released in order, once their commit succeeded. A
 * commit that fails refuses its events and every event answered behind it
 * (they cannot follow a gap in the log).
 *
 * It is also the pier's record of where the log ends (`logged`, `lastMug`)
 * and of what was committed (the counters the status document reads).
 */
import { Cause, Effect, Exit, Option } from "effect"
import { RateWindow } from "../status/rates.ts"
import type { WorkAnswer } from "../serf/window.ts"
import { type PierFenced, PierIo, ShuttingDown } from "./errors.ts"
import type { LoggedEvent, PierLog } from "./log.ts"
import type { Pending } from "./pending.ts"

/** An event the serf answered, waiting for its commit. */
export interface Answered {
  readonly p: Pending
  readonly answer: Exclude<WorkAnswer, { _tag: "Bail" }>
}

export type Refusal = PierIo | PierFenced | ShuttingDown

export interface CommitHooks {
  /** Every commit's size (for a batch-size histogram). */
  readonly onCommit?: ((events: number) => void) | undefined
  /** A commit failed: its events were refused with `error` (the serf is now ahead of the log). */
  readonly refused: (error: Refusal) => void
  /** Every answer so far is committed, or refused. */
  readonly idle: () => void
}

type Run = <A, E>(effect: Effect.Effect<A, E>) => unknown

const toAnswer = (a: Answered["answer"]) =>
  a._tag === "Done"
    ? { _tag: "Done" as const, eve: a.eve, mug: a.mug, effects: a.effects }
    : { _tag: "Swap" as const, eve: a.eve, mug: a.mug, effects: a.effects, ev: a.ev }

export class GroupCommit {
  /** The last event known to be in the log, and its mug (null: not recorded). */
  logged: number
  lastMug: number | null
  /** Counters: events logged and commits since the pier opened, the last and the largest commit's size. */
  events = 0
  commits = 0
  lastBatch = 0
  maxBatch = 0
  readonly eventRates: RateWindow
  readonly commitRates: RateWindow
  /** The pier's scope is closing: nothing more is committed. */
  closed = false
  /** Answers waiting for their commit, in order. */
  private batch: Array<Answered> = []
  /** The commit in flight (an asynchronous log), if any: the next one waits for it. */
  private committing: ReadonlyArray<Answered> | undefined = undefined
  /** A commit in flight that the pier stopped waiting for (its outcome unknown). */
  private givenUp: ReadonlyArray<Answered> | undefined = undefined
  private waiters: Array<() => void> = []
  private readonly log: PierLog
  private readonly dir: string
  private readonly now: () => number
  private readonly run: Run
  private readonly hooks: CommitHooks

  constructor(
    log: PierLog,
    at: { readonly logged: number; readonly mug: number | null },
    dir: string,
    now: () => number,
    run: Run,
    hooks: CommitHooks
  ) {
    this.log = log
    this.logged = at.logged
    this.lastMug = at.mug
    this.dir = dir
    this.now = now
    this.run = run
    this.hooks = hooks
    this.eventRates = new RateWindow(now())
    this.commitRates = new RateWindow(now())
  }

  /** Nothing waits for a commit and none is in flight. */
  get idle(): boolean {
    return this.batch.length === 0 && this.committing === undefined
  }

  /** A commit is in flight (sent to the log, not confirmed yet). */
  get inFlight(): boolean {
    return this.committing !== undefined
  }

  /** An answer to commit with the next batch. */
  push(answered: Answered): void {
    this.batch.push(answered)
  }

  /** The events the pier boots a fresh log with (the serf has done them): logged now. */
  booted(events: number, mug: number): void {
    this.logged = events
    this.events += events
    this.lastMug = mug
  }

  /** Commits the answers so far, unless a commit is in flight (then they go in the next one). */
  readonly commit = (): void => {
    if (this.committing !== undefined || this.batch.length === 0) return
    const done = this.batch
    this.batch = []
    if (this.closed) return this.refuse(done, new ShuttingDown({ reason: "the pier closed before the event was logged" }))
    const rows = rowsOf(done)
    const appendNow = this.log.appendNow
    if (appendNow !== undefined) {
      const error = appendNow(rows)
      return error === undefined ? this.committed(done, rows) : this.refuse(done, error)
    }
    this.committing = done
    this.run(Effect.onExit(this.log.append(rows), (exit) =>
      Effect.gen({ self: this }, function*() {
        this.committing = undefined
        if (Exit.isSuccess(exit)) this.committed(done, rows)
        else {
          const error = Option.getOrUndefined(Exit.findErrorOption(exit))
          if (error === undefined && !Cause.hasInterruptsOnly(exit.cause)) yield* Effect.logError("a commit died", exit.cause)
          this.refuse(
            done,
            error ?? (Cause.hasInterruptsOnly(exit.cause)
              ? new ShuttingDown({ reason: "the pier closed while the event was being logged" })
              : new PierIo({ dir: this.dir, reason: "a commit died (see the log)" }))
          )
        }
        this.commit()
        if (this.committing === undefined) {
          const waiters = this.waiters
          this.waiters = []
          for (const w of waiters) w()
          this.hooks.idle()
        }
      })))
  }

  /** Every answer so far is committed (or refused). */
  readonly drain: Effect.Effect<void> = Effect.suspend(() => {
    this.commit()
    if (this.committing === undefined || this.committing === this.givenUp) return Effect.void
    return Effect.callback<void>((resume) => {
      const waiter = () => resume(Effect.void)
      this.waiters.push(waiter)
      return Effect.sync(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
      })
    })
  })

  /** Answered, but not logged and never to be (the pier stops unsaved): each gets `error`. */
  abandon(error: ShuttingDown): void {
    const waiting = this.batch
    this.batch = []
    for (const { p } of waiting) p.done(error)
  }

  /**
   * The pier stops waiting for the commit in flight (its log does not
   * answer): its events get `error` (they may or may not be logged), and
   * `drain` no longer waits for it; a late outcome finds them answered.
   */
  giveUp(error: PierIo): void {
    const inFlight = this.committing
    if (inFlight === undefined) return
    this.givenUp = inFlight
    for (const { p } of inFlight) p.done(error)
  }

  /** The commit is durable: its answers go out, in order. */
  private committed(done: ReadonlyArray<Answered>, rows: ReadonlyArray<LoggedEvent>): void {
    this.events += rows.length
    this.commits++
    this.lastBatch = rows.length
    const last = rows[rows.length - 1]!
    this.logged = last.eve
    this.lastMug = last.mug
    this.hooks.onCommit?.(rows.length)
    const at = this.now()
    this.commitRates.observe(undefined, at)
    if (rows.length > this.maxBatch) this.maxBatch = rows.length
    for (const { p, answer } of done) {
      this.eventRates.observe(at - p.wen, at)
      p.done(toAnswer(answer))
    }
    this.hooks.idle()
  }

  /** The commit failed: its events, and those answered behind it, are not logged and never will be. */
  private refuse(done: ReadonlyArray<Answered>, error: Refusal): void {
    const behind = this.batch
    this.batch = []
    for (const { p } of done) p.done(error)
    for (const { p } of behind) p.done(error)
    this.hooks.refused(error)
    this.hooks.idle()
  }
}

/** The log's rows for answered events: the event as its JSON text (as given, unless the serf swapped it). */
const rowsOf = (done: ReadonlyArray<Answered>): Array<LoggedEvent> => {
  const rows = new Array<LoggedEvent>(done.length)
  for (let i = 0; i < done.length; i++) {
    const { p, answer } = done[i]!
    const json = answer._tag === "Done" && p.json !== undefined ? p.json : JSON.stringify(answer.ev) ?? "null"
    rows[i] = p.key === undefined
      ? { eve: answer.eve, wen: answer.wen, mug: answer.mug, ev: json }
      : { eve: answer.eve, wen: answer.wen, mug: answer.mug, ev: json, key: p.key, fec: JSON.stringify(answer.effects) }
  }
  return rows
}
