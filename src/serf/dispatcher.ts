/**
 * The serf lock and the `run` pipeline, as one small state machine driven by
 * callbacks (no fiber per event):
 *
 * - `work` ops are sent while fewer than `maxInFlight` are outstanding; pleas
 *   answer them in order, each to its caller exactly once;
 * - a `lock` op (a control flow: boot, replay, swim, save, pack, peek, stop)
 *   waits in the same FIFO, is granted once the window has drained, and then
 *   has the serf to itself until it releases;
 * - the lock state `{eve, mug}` follows every answer;
 * - `fail` ends it all: every op waiting or outstanding gets the error, and
 *   every later op gets `SerfNotRunning`.
 */
import { Deque } from "../internal/deque.ts"
import type { Link } from "../wire/link.ts"
import { SerfDied, type SerfError, SerfNotRunning, SerfProtocolError } from "./errors.ts"
import { checkPlea, type Goof, type Plea, type Ripe } from "./protocol.ts"

export type WorkAnswer =
  | {
    readonly _tag: "Done"
    readonly eve: number
    readonly mug: number
    readonly wen: number
    readonly ev: unknown
    readonly effects: ReadonlyArray<unknown>
  }
  | {
    readonly _tag: "Swap"
    readonly eve: number
    readonly mug: number
    readonly wen: number
    readonly ev: unknown
    readonly effects: ReadonlyArray<unknown>
  }
  | { readonly _tag: "Bail"; readonly goofs: ReadonlyArray<Goof> }

export interface WorkOp {
  readonly kind: "work"
  readonly wen: number
  readonly ev: unknown
  /** The `work` writ, encoded when the op was made (a value that cannot be encoded never gets this far). */
  readonly frame: Buffer
  readonly done: (answer: WorkAnswer | SerfError) => void
  sent: boolean
  cancelled: boolean
}

export interface LockOp {
  readonly kind: "lock"
  readonly grant: () => void
  readonly refuse: (error: SerfError) => void
  cancelled: boolean
}

/** Answers are plain data; errors are `Error` instances (tagged errors). */
export const isError = <A, E extends Error>(u: A | E): u is E => u instanceof Error

export class Dispatcher {
  readonly pid: number
  readonly maxInFlight: number
  readonly link: Link
  eve = 0
  mug = 0
  ripe: Ripe | undefined = undefined
  dead: SerfError | undefined = undefined
  locked = false
  /** Called with the first plea (it must be `ripe`). */
  onRipe: ((ripe: Ripe | SerfError) => void) | undefined = undefined
  /** The lock holder's outstanding requests, answered in order. */
  private readonly requests = new Deque<(answer: Plea | SerfError) => void>()
  private readonly queue = new Deque<WorkOp | LockOp>()
  private readonly window = new Deque<WorkOp>()
  /** Told of every failure (once). */
  private readonly onDead: (error: SerfError) => void

  constructor(pid: number, maxInFlight: number, link: Link, onDead: (error: SerfError) => void) {
    this.pid = pid
    this.maxInFlight = maxInFlight
    this.link = link
    this.onDead = onDead
  }

  get inFlight(): number {
    return this.window.length
  }

  // ── callers ────────────────────────────────────────────────────────────────

  submit(op: WorkOp | LockOp): void {
    if (this.dead !== undefined) {
      const error = this.notRunning()
      return op.kind === "work" ? op.done(error) : op.refuse(error)
    }
    this.queue.push(op)
    this.pump()
  }

  /** The lock holder sends one writ (or one frame already encoded); pleas answer its writs in order. */
  ask(writ: unknown, answer: (plea: Plea | SerfError) => void): void {
    if (this.dead !== undefined) return answer(this.notRunning())
    this.requests.push(answer)
    if (Buffer.isBuffer(writ)) this.link.sendFrame(writ)
    else this.link.send(writ)
  }

  release(): void {
    this.locked = false
    this.pump()
  }

  notRunning(): SerfNotRunning {
    const dead = this.dead
    return new SerfNotRunning({
      pid: this.pid,
      reason: dead === undefined ? "it was stopped" : dead._tag === "SerfNotRunning" ? dead.reason : dead.message
    })
  }

  /** Ends the serf handle; everything owed gets `error`, everything later `SerfNotRunning`. */
  fail(error: SerfError): void {
    if (this.dead !== undefined) return
    this.dead = error
    this.locked = false
    for (const request of this.requests.drain()) request(error)
    this.onRipe?.(error)
    this.onRipe = undefined
    for (const op of this.window.drain()) op.done(error)
    const later = this.notRunning()
    for (const op of this.queue.drain()) {
      if (op.cancelled) continue
      if (op.kind === "work") op.done(error._tag === "SerfDied" ? error : later)
      else op.refuse(later)
    }
    this.onDead(error)
  }

  private pump(): void {
    while (this.dead === undefined && !this.locked) {
      const op = this.queue.peek()
      if (op === undefined) return
      if (op.cancelled) {
        this.queue.shift()
        continue
      }
      if (op.kind === "work") {
        if (this.window.length >= this.maxInFlight) return
        this.queue.shift()
        op.sent = true
        this.window.push(op)
        this.link.sendFrame(op.frame)
      } else {
        if (this.window.length > 0) return
        this.queue.shift()
        this.locked = true
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
    if (this.dead !== undefined) return
    const plea = checkPlea(message as { t: string })
    if (typeof plea === "string") return this.protocol(plea)
    if (this.ripe === undefined) {
      if (plea.t !== "ripe") return this.protocol(`expected ripe first, got ${plea.t}`)
      this.ripe = plea
      this.eve = plea.eve
      this.mug = plea.mug
      const onRipe = this.onRipe
      this.onRipe = undefined
      return onRipe?.(plea)
    }
    const request = this.requests.shift()
    if (request !== undefined) return request(plea)
    const op = this.window.shift()
    if (op === undefined) return this.protocol(`unexpected ${plea.t} (nothing was asked)`)
    switch (plea.t) {
      case "work-done":
      case "work-swap": {
        if (plea.eve !== this.eve + 1) {
          return this.protocol(`${plea.t} for event ${plea.eve}, expected ${this.eve + 1}`)
        }
        this.eve = plea.eve
        this.mug = plea.mug
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
      default:
        return this.protocol(`${plea.t} does not answer work`)
    }
  }



  /** The serf's pipes closed or it exited. */
  died(result: SerfDied["result"]): void {
    this.fail(new SerfDied({ pid: this.pid, result }))
  }
}
