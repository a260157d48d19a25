/**
 * The `run` flow's bounded pipelining window (SPEC §2): at most `max` `work`
 * writs outstanding, answered by the serf in the order they were sent. Plain
 * data and callbacks, no fiber per event: the lock (./lock.ts) decides when
 * a writ may go out and hands each answer to the oldest writ here.
 */
import { Deque } from "../internal/deque.ts"
import type { Link } from "../wire/link.ts"
import type { SerfError } from "./errors.ts"
import type { Goof } from "./protocol.ts"

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

/** One `work` writ, from its caller to its answer. */
export interface WorkOp {
  readonly kind: "work"
  readonly wen: number
  readonly ev: unknown
  /** The `work` writ, encoded when the op was made (a value that cannot be encoded never gets this far). */
  readonly frame: Buffer
  /**
   * Called once. On failure: `SerfDied` or `SerfProtocolError` when the writ
   * was sent and the serf ended owing its answer; `SerfNotRunning` when it was
   * never sent, or the host gave the serf up.
   */
  readonly done: (answer: WorkAnswer | SerfError) => void
  sent: boolean
  cancelled: boolean
}

/** Answers are plain data; errors are `Error` instances (tagged errors). */
export const isError = <A, E extends Error>(u: A | E): u is E => u instanceof Error

export class Window {
  readonly max: number
  private readonly link: Link
  private readonly sent = new Deque<WorkOp>()

  constructor(max: number, link: Link) {
    this.max = max
    this.link = link
  }

  /** Writs sent and not yet answered. */
  get inFlight(): number {
    return this.sent.length
  }

  get full(): boolean {
    return this.sent.length >= this.max
  }

  /** Writes the op's writ; the serf owes it an answer from now on. */
  send(op: WorkOp): void {
    op.sent = true
    // a serf still working through earlier writs reads this one no sooner: it may wait to go with others
    const busy = this.sent.length > 0
    this.sent.push(op)
    this.link.sendFrame(op.frame, busy)
  }

  /** The writ the serf's next work answer is for (taken out of the window). */
  answered(): WorkOp | undefined {
    return this.sent.shift()
  }

  /** Every writ still owed an answer, oldest first (the window is empty after). */
  drain(): Iterable<WorkOp> {
    return this.sent.drain()
  }
}
