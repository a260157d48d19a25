/**
 * Dispatch (SPEC §5), synchronous and central: a request goes to the least
 * loaded worker with room (an idle one first), else it waits in the queue; a
 * worker that has room takes the head of the queue. A busy worker never holds
 * a request an idle one could take.
 *
 * A worker may turn out to be gone when it is given a request (its stdin is
 * closed, a write fails at once, its exit has been seen): the request never
 * reached it, and is offered to the next worker, or put back at the front of
 * the queue.
 */
import type { Queue } from "./queue.ts"
import type { Request } from "./request.ts"
import type { Worker } from "./worker.ts"

export class Dispatch {
  /** Each slot's current worker (read, never written, here). */
  private readonly workers: ReadonlyArray<Worker | undefined>
  readonly queue: Queue

  constructor(workers: ReadonlyArray<Worker | undefined>, queue: Queue) {
    this.workers = workers
    this.queue = queue
  }

  /** The least loaded worker with room; an idle one as soon as it is found. */
  pick(): Worker | undefined {
    let best: Worker | undefined = undefined
    for (const w of this.workers) {
      if (w === undefined || !w.hasRoom()) continue
      if (best === undefined || w.load < best.load) best = w
      if (best.load === 0) break
    }
    return best
  }

  /** Gives `req` to a worker with room: false if none took it (it is not queued). */
  place(req: Request): boolean {
    for (;;) {
      const w = this.pick()
      if (w === undefined) return false
      // a worker that refuses is gone and has no room any more: the loop ends
      if (w.take(req)) return true
    }
  }

  /** Gives waiting requests to workers with room, oldest first. */
  pump(): void {
    for (;;) {
      const head = this.queue.peek()
      if (head === undefined) return
      const w = this.pick()
      if (w === undefined) return
      this.queue.take()
      if (!w.take(head)) this.queue.putBack(head)
    }
  }
}
