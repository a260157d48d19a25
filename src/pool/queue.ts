/**
 * The pool's queue (SPEC §5): waiting requests, oldest first, bounded by
 * `maxQueue` (which counts waiting requests, not running ones).
 *
 * A cancelled request is counted out at once and dropped when it reaches the
 * head. A request put back (its frame never reached the worker it was given
 * to) goes to the front: it is older than anything that waits — a request is
 * given to a worker at once only when nothing waits — so the front is a short
 * list of such requests in acceptance order, ahead of the FIFO.
 */
import { Deque } from "../internal/deque.ts"
import type { Request } from "./request.ts"

export class Queue {
  readonly max: number
  private readonly fifo = new Deque<Request>()
  /** Put back, in acceptance (id) order; served before `fifo`. */
  private readonly front: Array<Request> = []
  /** Live (not cancelled) requests waiting. */
  size = 0

  constructor(max: number) {
    this.max = max
  }

  get full(): boolean {
    return this.size >= this.max
  }

  push(req: Request): void {
    req.state = "queued"
    this.fifo.push(req)
    this.size++
  }

  /** A request that never reached its worker: next in line, in acceptance order (however full the queue is). */
  putBack(req: Request): void {
    req.state = "queued"
    req.worker = undefined
    let i = this.front.length
    while (i > 0 && this.front[i - 1]!.id > req.id) i--
    this.front.splice(i, 0, req)
    this.size++
  }

  /** The oldest live request, left in place. */
  peek(): Request | undefined {
    while (this.front.length > 0) {
      const head = this.front[0]!
      if (head.state === "queued") return head
      this.front.shift()
    }
    for (;;) {
      const head = this.fifo.peek()
      if (head === undefined || head.state === "queued") return head
      this.fifo.shift()
    }
  }

  /** Removes the request `peek` returned. */
  take(): void {
    if (this.front.length > 0) this.front.shift()
    else this.fifo.shift()
    this.size--
  }

  /** A waiting request's caller left: counted out now, dropped when it reaches the head. */
  cancel(req: Request): void {
    req.state = "done"
    req.frame = undefined // the queue keeps the entry until it reaches the head, not the payload
    this.size--
  }

  /** Removes and returns every live request, oldest first. */
  drain(): Array<Request> {
    const out = this.front.splice(0).concat(this.fifo.drain()).filter((r) => r.state === "queued")
    this.size = 0
    return out
  }
}
