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
 * - Alive is not well (SPEC §1, §3). The serf answers in order, so its
 *   oldest unanswered writ is the one it is working on: with `workTimeout`,
 *   a writ with no answer that long after it became the oldest (after the
 *   previous answer, or after it was sent, whichever is later) means the
 *   serf is stuck — never counted from when a writ was sent, so a window of
 *   slow but live events is never taken for stuck. With `heartbeat`, a serf
 *   that has owed nothing for that long gets a `ping`, and owes its `pong`
 *   within the same time. Either miss ends the lock with `SerfStuck`. The
 *   times are plain numbers on the alarm's clock (Effect's `Clock`).
 */
import type { Alarm } from "../internal/alarm.ts"
import { Deque } from "../internal/deque.ts"
import type { Link } from "../wire/link.ts"
import { SerfDied, type SerfError, SerfNotRunning, SerfProtocolError, SerfStuck } from "./errors.ts"
import { checkPlea, type Plea, type Ripe } from "./protocol.ts"
import { Window, type WorkOp } from "./window.ts"

export interface LockOp {
  readonly kind: "lock"
  readonly grant: () => void
  readonly refuse: (error: SerfError) => void
  cancelled: boolean
}

/** How long a serf may take (ms; 0: no limit), on which clock. */
export interface LockTiming {
  readonly alarm: Alarm
  /** The oldest writ's limit (`workTimeout`). */
  readonly workTimeoutMs: number
  /** Idle this long: a ping; its pong due within as long (`heartbeat`). */
  readonly heartbeatMs: number
}

/** A writ of the lock holder's, waiting for its plea. */
interface Request {
  readonly t: string
  readonly answer: (answer: Plea | SerfError) => void
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
  private readonly requests = new Deque<Request>()
  private readonly queue = new Deque<WorkOp | LockOp>()
  /** Told of the failure that ended the lock (once). */
  private readonly onDead: (error: SerfError) => void
  private readonly timing: LockTiming
  /** Since when the oldest unanswered writ has been the oldest (while one is). */
  private oldestSince = 0
  /** Since when the serf has owed nothing (once ripe). */
  private idleSince = 0
  /** The ping it owes a pong for: its number and when it was sent. */
  private ping: { readonly n: number; readonly at: number } | undefined = undefined
  private pings = 0

  constructor(pid: number, maxInFlight: number, link: Link, timing: LockTiming, onDead: (error: SerfError) => void) {
    this.pid = pid
    this.link = link
    this.window = new Window(maxInFlight, link)
    this.timing = timing
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

  /** The lock holder sends one writ `t` (or its frame, already encoded); pleas answer its writs in order. */
  ask(t: string, writ: unknown, answer: (plea: Plea | SerfError) => void): void {
    if (this.ended !== undefined) return answer(this.notRunning())
    this.sending()
    this.requests.push({ t, answer })
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
    this.ping = undefined
    for (const request of this.requests.drain()) request.answer(error)
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

  /**
   * Sends the work that fits in the window and, with `grant`, grants a lock
   * op at the head of the queue once the window has drained. While an answer
   * is being handed out, work goes out first but no lock op is granted
   * until the answer's caller was told: a control flow (a `save` after the
   * commit, a reload's hand-over) then sees every answer the serf gave.
   */
  private pump(grant = true): void {
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
        this.sending()
        this.window.send(op)
      } else {
        if (!grant || this.window.inFlight > 0) return
        this.queue.shift()
        this.held = true
        op.grant()
      }
    }
  }

  // ── alive is not well ──────────────────────────────────────────────────────

  /** Writs sent and not yet answered. */
  private get owed(): number {
    return this.requests.length + this.window.inFlight
  }

  /** A writ is about to go out: if the serf owed nothing, it is the oldest from now. */
  private sending(): void {
    if (this.owed > 0) return
    const now = this.timing.alarm.now()
    this.oldestSince = now
    if (this.timing.workTimeoutMs > 0) this.timing.alarm.at(now + this.timing.workTimeoutMs)
  }

  /** A writ was answered: the next one is the oldest from now, or the serf owes nothing. */
  private answered(): void {
    const now = this.timing.alarm.now()
    if (this.owed > 0) this.oldestSince = now
    else {
      this.idleSince = now
      if (this.timing.heartbeatMs > 0 && this.ping === undefined) this.timing.alarm.at(now + this.timing.heartbeatMs)
    }
  }

  /** The alarm rang: a serf stuck on its oldest writ or its ping ends here; an idle one gets a ping. */
  readonly ring = (now: number): void => {
    if (this.ended !== undefined || this.ripeSeen === undefined) return
    const { workTimeoutMs, heartbeatMs } = this.timing
    if (workTimeoutMs > 0 && this.owed > 0 && now - this.oldestSince >= workTimeoutMs) {
      const t = this.requests.peek()?.t ?? "work"
      return this.fail(new SerfStuck({ pid: this.pid, writ: t, ms: workTimeoutMs }))
    }
    if (this.ping !== undefined && now - this.ping.at >= heartbeatMs) {
      return this.fail(new SerfStuck({ pid: this.pid, writ: "ping", ms: heartbeatMs }))
    }
    if (heartbeatMs > 0 && this.ping === undefined && this.owed === 0 && now - this.idleSince >= heartbeatMs) {
      this.ping = { n: ++this.pings, at: now }
      this.link.send({ t: "ping", n: this.ping.n })
    }
    const next = Math.min(
      workTimeoutMs > 0 && this.owed > 0 ? this.oldestSince + workTimeoutMs : Infinity,
      this.ping !== undefined ? this.ping.at + heartbeatMs : Infinity,
      heartbeatMs > 0 && this.ping === undefined && this.owed === 0 ? this.idleSince + heartbeatMs : Infinity
    )
    if (next !== Infinity) this.timing.alarm.at(next)
  }

  /** A `pong`: it answers the ping with its number, and nothing else. */
  private pong(n: unknown): void {
    if (this.ping === undefined || n !== this.ping.n) return
    this.ping = undefined
    if (this.owed === 0) this.answered()
  }

  // ── the serf ───────────────────────────────────────────────────────────────

  private protocol(reason: string): void {
    this.fail(new SerfProtocolError({ pid: this.pid, reason }))
  }

  /** One decoded message from the serf's stdout. */
  readonly onMessage = (message: unknown): void => {
    if (this.ended !== undefined) return
    if ((message as { t: string }).t === "pong") return this.pong((message as { n?: unknown }).n)
    const plea = checkPlea(message as { t: string })
    if (typeof plea === "string") return this.protocol(plea)
    if (this.ripeSeen === undefined) {
      if (plea.t !== "ripe") return this.protocol(`expected ripe first, got ${plea.t}`)
      this.ripeSeen = plea
      this.eveNow = plea.eve
      this.mugNow = plea.mug
      this.answered()
      const onRipe = this.onRipe
      this.onRipe = undefined
      return onRipe?.(plea)
    }
    const request = this.requests.shift()
    if (request !== undefined) {
      this.answered()
      return request.answer(plea)
    }
    const op = this.window.answered()
    if (op === undefined) return this.protocol(`unexpected ${plea.t} (nothing was asked)`)
    this.answered()
    switch (plea.t) {
      case "work-done":
      case "work-swap": {
        const broken = this.did(plea)
        if (broken !== undefined) {
          op.done(new SerfProtocolError({ pid: this.pid, reason: broken }))
          return this.protocol(broken)
        }
        const swap = plea.t === "work-swap"
        this.pump(false) // the next writs go out before the answer's caller resumes
        op.done({
          _tag: swap ? "Swap" : "Done",
          eve: plea.eve,
          mug: plea.mug,
          wen: swap ? plea.wen : op.wen,
          ev: swap ? plea.ev : op.ev,
          effects: plea.fec
        })
        return this.pump()
      }
      case "work-bail":
        this.pump(false)
        op.done({ _tag: "Bail", goofs: plea.lud })
        return this.pump()
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
