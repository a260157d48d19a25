/**
 * One accepted request, from acceptance to its one answer (SPEC §5).
 */
import type { Clock, Tracer } from "effect"
import * as Trace from "../internal/trace.ts"
import { type Codec, json, RawJson } from "../wire/codec.ts"
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
  /** Its spans, when traced with `spans` on. */
  readonly trace: RequestTrace | undefined
}

/**
 * A traced request's spans, with `spans` on (SPEC §8 Tracing): the wait in
 * the queue from acceptance, then the worker's exec from the moment it is
 * written to a worker — whose span id is written into the frame's `trace`
 * then, in place of the placeholder it was encoded with.
 */
export class RequestTrace {
  private readonly caller: Trace.Caller
  private readonly clock: Clock.Clock
  private readonly queue: Tracer.Span
  private exec: Tracer.Span | undefined = undefined
  /** Where the span id of `trace` is in the frame (the codecs write a string's ASCII as it is). */
  private readonly at: number

  /** `placeholder`: the `trace` the frame was encoded with. */
  constructor(caller: Trace.Caller, clock: Clock.Clock, id: number, frame: Buffer, placeholder: string) {
    this.caller = caller
    this.clock = clock
    this.queue = Trace.start(caller, "queue", clock, { "liege.request": id })
    const found = frame.lastIndexOf(placeholder, undefined, "latin1")
    this.at = found < 0 ? -1 : found + Trace.SPAN_OFFSET
  }

  /** The request is being written to `worker` (its slot and pid): the exec span starts, and is the frame's `trace`. */
  dispatched(frame: Buffer, slot: number, pid: number): void {
    Trace.end(this.queue, this.clock)
    // written before, to a worker that turned out to be gone: that exec is over
    if (this.exec !== undefined) Trace.end(this.exec, this.clock, "the worker was gone before it got the request")
    this.exec = Trace.start(this.caller, "exec", this.clock, { "liege.worker": slot, "process.pid": pid })
    if (this.at >= 0) frame.write(this.exec.spanId, this.at, "latin1")
  }

  /** Its answer (or `Trace.interrupted`: its caller left): the span under way ends with it. */
  finished(answer: Answer | typeof Trace.interrupted): void {
    const error = answer === Trace.interrupted ? answer : "ok" in answer ? undefined : answer
    if (this.exec !== undefined) Trace.end(this.exec, this.clock, error)
    Trace.end(this.queue, this.clock, error)
  }
}

/**
 * The `req` frame. A caller in a span sends its context as `trace`; with
 * `spans` on, the exec span's, written in when the request is dispatched.
 * `text`, the payload's JSON text as the caller was given it, is written as
 * it is with the json codec (SPEC §1), not parsed and written again.
 */
export const reqFrame = (
  codec: Codec,
  id: number,
  payload: unknown,
  text: string | undefined,
  stream: StreamSink | undefined,
  trace: string | undefined
): Buffer => {
  if (text !== undefined && codec === json && stream === undefined) {
    return json.frame(new RawJson(`{"t":"req","id":${id},"payload":${text}${trace === undefined ? "" : `,"trace":"${trace}"`}}`))
  }
  const req: { t: "req"; id: number; payload: unknown; stream?: number; trace?: string } = { t: "req", id, payload }
  if (stream !== undefined) req.stream = stream.granted
  if (trace !== undefined) req.trace = trace
  return codec.frame(req)
}
