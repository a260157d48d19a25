/**
 * The serf lock (SPEC §2), as one small state machine driven by callbacks
 * (no fiber per event). It owns the lock state `{eve, mug}`: nothing else
 * writes it.
 *
 * - `work` ops go into the window (./window.ts) while it has room; pleas
 *   answer them in order, each to its caller exactly once;
 * - a `lock` op (a control flow: boot, replay, swim, save, pack, peek, stop)
 *   waits in the same FIFO, is granted once the window has drained, and then
 *   has the serf to itself until it releases;
 * - `{eve, mug}` follows every answer: `played` and `playBailed` for `play`,
 *   `did` for a work answer (which must be for the next event);
 * - `fail` ends it all: every op waiting or outstanding gets an error, and
 *   the lock is "not running" from then on (every later op gets
 *   `SerfNotRunning`).
 */
import { Deque } from "../internal/deque.ts"
import type { Link } from "../wire/link.ts"
import { SerfDied, type SerfError, SerfNotRunning, SerfProtocolError } from "./errors.ts"
import { checkPlea, type Plea, type Ripe } from "./protocol.ts"
import { Window, type WorkOp } from "./window.ts"

export interface LockOp {
  readonly kind: "lock"
  readonly grant: () => void
  readonly refuse: (error: SerfError) => void
  cancelled: boolean
}

export class SerfLock {
  readonly pid: number
  readonly window: Window
  private eveNow = 0
  private mugNow = 0
  private ripeSeen: Ripe | undefined = undefined
  private ended: SerfError | undefined = undefined
  private held = false
  /** Called with the first plea (it must be `ripe`), or with the error that ended the lock before it. */
  onRipe: ((ripe: Ripe | SerfError) => void) | undefined = undefined
  private readonly link: Link
  /** The lock holder's outstanding requests, answered in order. */
  private readonly requests = new Deque<(answer: Plea | SerfError) => void>()
  private readonly queue = new Deque<WorkOp | LockOp>()
  /** Told of the failure that ended the lock (once). */
  private readonly onDead: (error: SerfError) => void

  constructor(pid: number, maxInFlight: number, link: Link, onDead: (error: SerfError) => void) {
    this.pid = pid
    this.link = link
    this.window = new Window(maxInFlight, link)
    this.onDead = onDead
  }

  /** The last event the serf has done. */
  get eve(): number {
    return this.eveNow
  }

  /** The serf's mug after `eve`. */
  get mug(): number {
    return this.mugNow
  }

  get ripe(): Ripe | undefined {
    return this.ripeSeen
  }

  /** The error that ended the lock, once it is "not running". */
  get dead(): SerfError | undefined {
    return this.ended
  }

  get inFlight(): number {
    return this.window.inFlight
  }

  // ── the lock state ─────────────────────────────────────────────────────────

  /** A `play-done` for `events` events. */
  played(events: number, mug: number): void {
    this.eveNow += events
    this.mugNow = mug
  }

  /** A `play-bail` at `eve`: the state is the one before it. */
  playBailed(eve: number, mug: number): void {
    this.eveNow = eve - 1
    this.mugNow = mug
  }

  /** A work answer (`work-done`, `work-swap`): the next event, else the protocol break it is. */
  did(answer: { readonly t: string; readonly eve: number; readonly mug: number }): string | undefined {
    if (answer.eve !== this.eveNow + 1) return `${answer.t} for event ${answer.eve}, expected ${this.eveNow + 1}`
    this.eveNow = answer.eve
    this.mugNow = answer.mug
    return undefined
  }

  // ── callers ────────────────────────────────────────────────────────────────

  submit(op: WorkOp | LockOp): void {
    if (this.ended !== undefined) {
      const error = this.notRunning()
      return op.kind === "work" ? op.done(error) : op.refuse(error)
    }
    this.queue.push(op)
    this.pump()
  }

  /** The lock holder sends one writ (or one frame already encoded); pleas answer its writs in order. */
  ask(writ: unknown, answer: (plea: Plea | SerfError) => void): void {
    if (this.ended !== undefined) return answer(this.notRunning())
    this.requests.push(answer)
    if (Buffer.isBuffer(writ)) this.link.sendFrame(writ)
    else this.link.send(writ)
  }

  release(): void {
    this.held = false
    this.pump()
  }

  notRunning(): SerfNotRunning {
    const dead = this.ended
    return new SerfNotRunning({
      pid: this.pid,
      reason: dead === undefined ? "it was stopped" : dead._tag === "SerfNotRunning" ? dead.reason : dead.message
    })
  }

  /** Ends the lock: what the serf owes gets `error`, what it was never sent `SerfNotRunning`. */
  fail(error: SerfError): void {
    if (this.ended !== undefined) return
    this.ended = error
    this.held = false
    for (const request of this.requests.drain()) request(error)
    this.onRipe?.(error)
    this.onRipe = undefined
    for (const op of this.window.drain()) op.done(error)
    const later = this.notRunning()
    for (const op of this.queue.drain()) {
      if (op.cancelled) continue
      if (op.kind === "work") op.done(later)
      else op.refuse(later)
    }
    this.onDead(error)
  }

  private pump(): void {
    while (this.ended === undefined && !this.held) {
      const op = this.queue.peek()
      if (op === undefined) return
      if (op.cancelled) {
        this.queue.shift()
        continue
      }
      if (op.kind === "work") {
        if (this.window.full) return
        this.queue.shift()
        this.window.send(op)
      } else {
        if (this.window.inFlight > 0) return
        this.queue.shift()
        this.held = true
        op.grant()
      }
    }
  }

  // ── the serf ───────────────────────────────────────────────────────────────

  private protocol(reason: string): void {
    this.fail(new SerfProtocolError({ pid: this.pid, reason }))
  }

  /** One decoded message from the serf's stdout. */
  readonly onMessage = (message: unknown): void => {
    if (this.ended !== undefined) return
    const plea = checkPlea(message as { t: string })
    if (typeof plea === "string") return this.protocol(plea)
    if (this.ripeSeen === undefined) {
      if (plea.t !== "ripe") return this.protocol(`expected ripe first, got ${plea.t}`)
      this.ripeSeen = plea
      this.eveNow = plea.eve
      this.mugNow = plea.mug
      const onRipe = this.onRipe
      this.onRipe = undefined
      return onRipe?.(plea)
    }
    const request = this.requests.shift()
    if (request !== undefined) return request(plea)
    const op = this.window.answered()
    if (op === undefined) return this.protocol(`unexpected ${plea.t} (nothing was asked)`)
    switch (plea.t) {
      case "work-done":
      case "work-swap": {
        const broken = this.did(plea)
        if (broken !== undefined) {
          op.done(new SerfProtocolError({ pid: this.pid, reason: broken }))
          return this.protocol(broken)
        }
        const swap = plea.t === "work-swap"
        this.pump() // the next writs go out before the answer's caller resumes
        op.done({
          _tag: swap ? "Swap" : "Done",
          eve: plea.eve,
          mug: plea.mug,
          wen: swap ? plea.wen : op.wen,
          ev: swap ? plea.ev : op.ev,
          effects: plea.fec
        })
        return
      }
      case "work-bail":
        this.pump()
        return op.done({ _tag: "Bail", goofs: plea.lud })
      default: {
        const reason = `${plea.t} does not answer work`
        op.done(new SerfProtocolError({ pid: this.pid, reason }))
        return this.protocol(reason)
      }
    }
  }

  /** The serf's pipes closed or it exited. */
  died(result: SerfDied["result"]): void {
    this.fail(new SerfDied({ pid: this.pid, result }))
  }
}
