/**
 * The keeper (SPEC §3, §5): OTP's supervisor loop, for one child at a time
 * — a pool slot's worker, the pier's serf. Both run on this one loop.
 *
 * The child is a spec, as data: how to run one child from its start to its
 * end, what that end means (a `Verdict`), and what to do when the restart
 * intensity is exceeded. The keeper runs the child, asks for the verdict,
 * records a restart in the `RestartLog` with its structured reason (a kind,
 * words, whether it counted, how the process exited), counts it against the
 * intensity window, waits the backoff and starts the next one:
 *
 *   ┌─▶ before ─▶ run ─▶ verdict ─┬─ Next ─────────────────────────────┐
 *   │                             ├─ Restart ─▶ record ─▶ intensity ──┤─▶ (exceeded) ─▶ exceeded ─▶ go on / stop
 *   │                             │              backoff ◀────────────┘
 *   └──────────── sleep ◀─────────┘─ Stop: the keeper ends
 *
 * Time comes from Effect's `Clock` (the backoff's sleep too), so a keeper
 * runs on a `TestClock`.
 */
import { Clock, Duration, Effect } from "effect"
import type { Backoff, Intensity } from "./restart-policy.ts"

/** How one child's run came out: its end, how long it was up (ready, ripe), and how its process exited. */
export interface Ran<End> {
  readonly end: End
  readonly upMs: number
  readonly exit: { readonly code: number | null; readonly signal: string | null } | undefined
}

/** What a restart is, in words and as a kind a status page can count. */
export interface Reason {
  /** Short and stable (`died serving`, `stuck`, `boot`…): what restarts are counted by. */
  readonly kind: string
  /** What happened, for people. */
  readonly reason: string
}

export type Verdict =
  /** The next child starts at once (not a restart: it was let go, or killed). With `restart`, it is recorded as one, uncounted. */
  | { readonly _tag: "Next"; readonly restart?: Reason | undefined }
  /**
   * A restart, after the backoff — its first step with `first` (a poison
   * suspect goes alone to the next child). `counts`: towards the intensity.
   */
  | Reason & { readonly _tag: "Restart"; readonly counts: boolean; readonly first?: boolean; readonly poison?: boolean }
  /** No next child: the keeper ends. */
  | { readonly _tag: "Stop" }

export const Next: Verdict = { _tag: "Next" }
export const Stop: Verdict = { _tag: "Stop" }

/** One restart, as recorded. */
export interface RestartRecord extends Reason {
  /** When the child ended (ms on the clock). */
  readonly at: number
  /** Counted towards the intensity. */
  readonly counted: boolean
  /** It found a poison event (the pier). */
  readonly poison: boolean
  readonly code: number | null
  readonly signal: string | null
}

const RECENT = 8

/** Every restart of a pool (all its slots) or a pier: the one record `/metrics`, `/v1/status` and tests read. */
export class RestartLog {
  total = 0
  readonly byKind = new Map<string, number>()
  /** The last few, oldest first. */
  readonly recent: Array<RestartRecord> = []

  add(record: RestartRecord): void {
    this.total++
    this.byKind.set(record.kind, (this.byKind.get(record.kind) ?? 0) + 1)
    this.recent.push(record)
    if (this.recent.length > RECENT) this.recent.shift()
  }
}

export interface ChildSpec<End> {
  /** Waited on before each start (a failed pool's cool-down). */
  readonly before?: Effect.Effect<void> | undefined
  /** Child `n`, from its start to its end, its process gone. */
  readonly run: (n: number) => Effect.Effect<Ran<End>>
  /** What its end means; it may act on it (answer what the child owed, log). */
  readonly verdict: (ran: Ran<End>, n: number) => Effect.Effect<Verdict>
  /** More counted restarts than allowed: true to go on (after `before`), false to stop. */
  readonly exceeded: (restart: RestartRecord, failures: number) => Effect.Effect<boolean>
  /** A restart is decided: the next child starts in `delayMs` (its log line, its status). */
  readonly restarting: (restart: RestartRecord, delayMs: number, failures: number) => Effect.Effect<void>
}

export interface KeeperPolicy {
  readonly intensity: Intensity
  readonly backoff: Backoff
  readonly restarts: RestartLog
}

/** Runs `spec`'s children one after another until a verdict stops it (or the fiber is interrupted). */
export const keep = <End>(spec: ChildSpec<End>, policy: KeeperPolicy): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let n = 1;; n++) {
      if (spec.before !== undefined) yield* spec.before
      const ran = yield* spec.run(n)
      const verdict = yield* spec.verdict(ran, n)
      if (verdict._tag === "Stop") return
      const at = yield* Clock.currentTimeMillis
      const record = (reason: Reason, counted: boolean, poison: boolean): RestartRecord => ({
        at,
        kind: reason.kind,
        reason: reason.reason,
        counted,
        poison,
        code: ran.exit?.code ?? null,
        signal: ran.exit?.signal ?? null
      })
      if (verdict._tag === "Next") {
        if (verdict.restart !== undefined) policy.restarts.add(record(verdict.restart, false, false))
        continue
      }
      const restart = record(verdict, verdict.counts, verdict.poison === true)
      policy.restarts.add(restart)
      const { exceeded, failures } = yield* policy.intensity.record(verdict.counts)
      if (exceeded) {
        if (yield* spec.exceeded(restart, failures)) continue
        return
      }
      const delay = Math.round(Duration.toMillis(yield* policy.backoff.next({ upMs: ran.upMs, first: verdict.first === true })))
      yield* spec.restarting(restart, delay, failures)
      yield* Effect.sleep(delay)
    }
  })
