/**
 * Write a pool worker in Node (SPEC §5, worker side):
 *
 * ```ts
 * runWorker(async (payload, { signal }) => {
 *   if (bad(payload)) throw new Fail("bad_request", "why")   // → err {code, message}
 *   return await work(payload, signal)                      // → ok value
 * })
 * ```
 *
 * The SDK sends `ready`, answers each `req` with `res` (pipelined requests run
 * concurrently), and exits when stdin ends. On `cancel` it aborts the
 * request's `signal` and answers `err {code: "cancelled"}` at once (the host
 * discards that answer; it tells the host the worker let go — a worker that
 * stays silent after a cancel is recycled). Any other thrown error answers
 * `{code: "internal"}` (the host answers it HTTP 500), and so does an answer
 * that cannot travel exactly (a NaN, a Map, bytes…: see the wire's plain data).
 * The host's heartbeat pings are answered by the wire (io.ts), even while
 * handlers wait on promises.
 *
 * A handler streams by returning an async iterable (`async function*`, or
 * a promise of one): for a request that asked for a stream, each value goes out as a `chunk`,
 * never more than the credit the host granted (the SDK waits for more), and
 * the iterable's return value is the answer; a cancel stops the iteration.
 * For a request that did not ask for a stream (`ctx.streamed` false), the
 * values are collected into one answer (an array).
 *
 * Trace context (SPEC §1): a `req` may carry `trace`, the W3C traceparent of
 * the span the request runs in; it is `ctx.trace` (undefined when the
 * request has none, or when its `trace` is not a string).
 */
import { EncodeFailure } from "../wire/plain.ts"
import { connect, type WorkerIo } from "./io.ts"

/** Thrown by a handler: the request's `err` answer. */
export class Fail extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

export interface RequestContext {
  readonly id: number
  /** Aborted when the host cancels the request (its caller left). */
  readonly signal: AbortSignal
  readonly io: WorkerIo
  /**
   * The W3C traceparent (`00-<trace id>-<span id>-<flags>`) of the span this
   * request runs in, as the host sent it; undefined when it sent none.
   */
  readonly trace: string | undefined
  /** The host asked for a streaming answer: an async iterable's values go out as chunks. */
  readonly streamed: boolean
}

/**
 * A handler answers with a value (or a promise of one), or streams: it
 * returns an async iterable (an `async function*`), each value one chunk.
 */
export type Handler = (payload: unknown, ctx: RequestContext) => unknown

/** One request being handled: its cancel, and for a stream its credit (chunks it may still send). */
interface Running {
  readonly controller: AbortController
  credit: number
  /** Waiting for credit (or the cancel). */
  wake: (() => void) | undefined
}

const isAsyncIterable = (u: unknown): u is AsyncIterable<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"

/**
 * "Name: message" for a thrown error, the text of anything else thrown (never
 * a stack), as Unicode text (a lone surrogate becomes U+FFFD) so that it travels.
 */
const describe = (e: unknown): string => {
  try {
    return (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).toWellFormed()
  } catch {
    return "a thrown value that cannot be shown as text"
  }
}

export interface RunWorkerOptions {
  /** Called when stdin ends, before the process exits; may return a promise (its finalizers, say). */
  readonly onEnd?: (() => void | Promise<void>) | undefined
}

export const runWorker = (handler: Handler, options: RunWorkerOptions = {}): WorkerIo => {
  const running = new Map<number, Running>()
  const answer = (io: WorkerIo, id: number, result: { ok: unknown } | { err: { code: string; message: string } }) => {
    const r = running.get(id)
    if (r === undefined || r.controller.signal.aborted) return
    running.delete(id)
    try {
      io.send({ t: "res", id, ...result })
    } catch (e) {
      // an answer that cannot travel exactly (or whose getters throw while it is
      // encoded: nothing was written) fails that request, not the worker
      const why = e instanceof EncodeFailure ? e.message : describe(e)
      io.send({ t: "res", id, err: { code: "internal", message: `the answer cannot be encoded: ${why}` } })
    }
  }
  const failure = (e: unknown) =>
    e instanceof Fail
      ? { err: { code: e.code, message: e.message } }
      : { err: { code: "internal", message: describe(e) } }
  /**
   * Sends an async iterable's values as chunks, never more than the credit
   * the host granted (waiting for more), then its return value as the answer.
   * Without `stream` in the request, the values are collected into one answer.
   */
  const pump = async (io: WorkerIo, id: number, r: Running, values: AsyncIterable<unknown>, streamed: boolean) => {
    const iterator = values[Symbol.asyncIterator]()
    const collected: Array<unknown> = []
    try {
      for (;;) {
        while (streamed && r.credit <= 0 && !r.controller.signal.aborted) await new Promise<void>((wake) => (r.wake = wake))
        if (r.controller.signal.aborted) {
          await iterator.return?.()
          return
        }
        const next = await iterator.next()
        if (r.controller.signal.aborted) continue
        if (next.done === true) return answer(io, id, { ok: streamed ? next.value ?? null : collected })
        if (!streamed) {
          collected.push(next.value)
          continue
        }
        r.credit--
        try {
          io.send({ t: "chunk", id, data: next.value })
        } catch (e) {
          await iterator.return?.()
          const why = e instanceof EncodeFailure ? e.message : describe(e)
          return answer(io, id, { err: { code: "internal", message: `a chunk cannot be encoded: ${why}` } })
        }
      }
    } catch (e) {
      answer(io, id, failure(e))
    }
  }
  const io = connect({
    onEnd: options.onEnd,
    onMessage: (m, io) => {
      const msg = m as { t?: unknown; id?: unknown; payload?: unknown; stream?: unknown; n?: unknown; trace?: unknown }
      if (msg.t === "cancel" && typeof msg.id === "number") {
        const r = running.get(msg.id)
        if (r === undefined) return
        running.delete(msg.id)
        r.controller.abort()
        r.wake?.()
        return io.send({ t: "res", id: msg.id, err: { code: "cancelled", message: "the caller left" } })
      }
      if (msg.t === "credit" && typeof msg.id === "number" && typeof msg.n === "number") {
        const r = running.get(msg.id)
        if (r === undefined) return
        r.credit += msg.n
        const wake = r.wake
        r.wake = undefined
        return wake?.()
      }
      if (msg.t !== "req" || typeof msg.id !== "number") return io.slog(3, `unknown message ${JSON.stringify(m)}`)
      const id = msg.id
      const streamed = typeof msg.stream === "number" && msg.stream > 0
      const r: Running = { controller: new AbortController(), credit: streamed ? msg.stream as number : 0, wake: undefined }
      running.set(id, r)
      // a trace that is not a string is no trace (the handler never sees a malformed field)
      const trace = typeof msg.trace === "string" ? msg.trace : undefined
      let result: unknown
      try {
        result = handler(msg.payload, { id, signal: r.controller.signal, io, trace, streamed })
      } catch (e) {
        return answer(io, id, failure(e))
      }
      if (isAsyncIterable(result)) {
        void pump(io, id, r, result, streamed)
      } else if (result instanceof Promise) {
        result.then(
          // an async function that returns an async iterable streams it too
          (ok) => isAsyncIterable(ok) ? void pump(io, id, r, ok, streamed) : answer(io, id, { ok: ok ?? null }),
          (e) => answer(io, id, failure(e))
        )
      } else {
        answer(io, id, { ok: result ?? null })
      }
    }
  })
  io.send({ t: "ready", pro: 1 })
  return io
}
