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
}

export type Handler = (payload: unknown, ctx: RequestContext) => unknown

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

export const runWorker = (handler: Handler): WorkerIo => {
  const running = new Map<number, AbortController>()
  const answer = (io: WorkerIo, id: number, result: { ok: unknown } | { err: { code: string; message: string } }) => {
    const controller = running.get(id)
    if (controller === undefined || controller.signal.aborted) return
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
  const io = connect({
    onMessage: (m, io) => {
      const msg = m as { t?: unknown; id?: unknown; payload?: unknown }
      if (msg.t === "cancel" && typeof msg.id === "number") {
        const controller = running.get(msg.id)
        if (controller === undefined) return
        running.delete(msg.id)
        controller.abort()
        return io.send({ t: "res", id: msg.id, err: { code: "cancelled", message: "the caller left" } })
      }
      if (msg.t !== "req" || typeof msg.id !== "number") return io.slog(3, `unknown message ${JSON.stringify(m)}`)
      const id = msg.id
      const controller = new AbortController()
      running.set(id, controller)
      let result: unknown
      try {
        result = handler(msg.payload, { id, signal: controller.signal, io })
      } catch (e) {
        return answer(io, id, failure(e))
      }
      if (result instanceof Promise) {
        result.then(
          (ok) => answer(io, id, { ok: ok ?? null }),
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
