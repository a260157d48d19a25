/**
 * One accepted request, from acceptance to its one answer (SPEC §5).
 */
import type { PoolError } from "./errors.ts"
import type { Worker } from "./worker.ts"

export type Answer = { readonly ok: unknown } | PoolError

/** A streaming request's consumer side (SPEC §5, streaming answers). */
export interface StreamSink {
  /** The credit granted so far (the first in the `req` frame, then each `credit`). */
  granted: number
  /** Chunks received so far: never more than `granted`. */
  received: number
  /** One chunk from the worker, to the consumer. */
  readonly chunk: (data: unknown) => void
}

export interface Request {
  readonly id: number
  /**
   * The `req` frame, encoded when the request was accepted; dropped once it
   * has been written to a worker (or the request is over). A frame that could
   * not be written is kept: the request goes back to the queue.
   */
  frame: Buffer | undefined
  readonly acceptedAt: number
  /** Resumes the caller: called once, by the pool's `finish`. */
  readonly answer: (a: Answer) => void
  state: "queued" | "running" | "done"
  /** The worker it was written to, while running. */
  worker: Worker | undefined
  /** When it exceeds `execTimeout` (ms on the clock), while running: it covers a whole stream. */
  deadline: number
  /** Set for a streaming request. */
  readonly stream: StreamSink | undefined
}
