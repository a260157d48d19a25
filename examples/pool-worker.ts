/**
 * An example pool worker in Node, for `liege pool -- node examples/pool-worker.ts`
 * (SPEC §5). Its Python twin is `examples/python/pool_worker.py`; both pass
 * `test/pool/conformance.test.ts`.
 *
 * Payloads:
 *   {"op":"echo","value":v}            ok v
 *   {"op":"add","a":x,"b":y}           ok x + y
 *   {"op":"sleep","ms":n}              after n ms, ok {"slept": n} (cancelled: err "cancelled" at once)
 *   {"op":"fail","code":c,"message":m} err {"code": c, "message": m}
 *   {"op":"throw","message":m}         the handler throws an ordinary error (a crash, not a refusal):
 *                                      err {"code": "internal", "message": "Boom: m"}; with "ms": n
 *                                      it throws after n ms (a rejected promise)
 *   {"op":"exit","code":n}             the process exits with code n at once, no answer
 *   {"op":"pid"}                       ok the process id
 *   {"op":"env"}                       ok {"id", "codec", "protocol", "generation"} (null when unset)
 *   {"op":"stderr","text":s}           writes s and a newline to stderr, ok null
 *   {"op":"slog","text":s}             sends a slog line, ok null
 *   {"op":"count","n":n,"ms":m,"pad":p} streams the chunks {"i": 1} … {"i": n}, each m ms after the last
 *                                      (default 0), with "pad": p x's when p is given, then ok
 *                                      {"counted": n} (a request without a stream gets the chunks as one array)
 *   {"op":"trace"}                     ok the request's trace (its W3C traceparent), or null without one
 *   anything else                      err {"code":"bad_request","message": what was wrong}
 */
import { Fail, runWorker } from "../src/worker/pool.ts"

const OPS = ["echo", "add", "sleep", "fail", "throw", "exit", "pid", "env", "stderr", "slog", "count", "trace"]

/** An ordinary error, named alike in both languages. */
class Boom extends Error {
  constructor(message: string) {
    super(message)
    this.name = "Boom"
  }
}

const need = (p: Record<string, unknown>, name: string, kind: "string" | "number" | "integer"): any => {
  if (!(name in p)) throw new Fail("bad_request", `"${p["op"]}" needs a field "${name}"`)
  const v = p[name]
  const ok = kind === "string"
    ? typeof v === "string"
    : kind === "number"
    ? typeof v === "number" && Number.isFinite(v)
    : Number.isInteger(v)
  if (!ok) throw new Fail("bad_request", `the field "${name}" of "${p["op"]}" must be a ${kind}`)
  return v
}

/** `count`'s chunks, as an async generator: the SDK streams them within the host's credit. */
async function* count(n: number, ms: number, pad: number | undefined, signal: AbortSignal) {
  const padding = pad === undefined ? undefined : "x".repeat(pad)
  for (let i = 1; i <= n && !signal.aborted; i++) {
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
    yield padding === undefined ? { i } : { i, pad: padding }
  }
  return { counted: n }
}

runWorker((payload, { signal, io, trace }) => {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new Fail("bad_request", "the payload must be an object with a string field \"op\"")
  }
  const p = payload as Record<string, unknown>
  if (typeof p["op"] !== "string") throw new Fail("bad_request", "the payload must have a string field \"op\"")
  switch (p["op"]) {
    case "echo":
      if (!("value" in p)) throw new Fail("bad_request", "\"echo\" needs a field \"value\"")
      return p["value"]
    case "add":
      return need(p, "a", "number") + need(p, "b", "number")
    case "sleep": {
      const ms = need(p, "ms", "number")
      if (ms < 0) throw new Fail("bad_request", "the field \"ms\" of \"sleep\" must not be negative")
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ slept: ms }), ms)
        signal.addEventListener("abort", () => clearTimeout(timer))
      })
    }
    case "fail":
      throw new Fail(need(p, "code", "string"), need(p, "message", "string"))
    case "throw": {
      const message = need(p, "message", "string")
      if (!("ms" in p)) throw new Boom(message)
      const ms = need(p, "ms", "number")
      if (ms < 0) throw new Fail("bad_request", "the field \"ms\" of \"throw\" must not be negative")
      return new Promise((_, reject) => {
        const timer = setTimeout(() => reject(new Boom(message)), ms)
        signal.addEventListener("abort", () => clearTimeout(timer))
      })
    }
    case "exit": {
      const code = need(p, "code", "integer")
      if (code < 0 || code > 255) throw new Fail("bad_request", "the field \"code\" of \"exit\" must be between 0 and 255")
      return io.exit(code)
    }
    case "pid":
      return process.pid
    case "env":
      return {
        id: process.env["LIEGE_WORKER_ID"] ?? null,
        codec: process.env["LIEGE_CODEC"] ?? null,
        protocol: process.env["LIEGE_PROTOCOL"] ?? null,
        generation: process.env["LIEGE_GENERATION"] ?? null
      }
    case "stderr":
      process.stderr.write(`${need(p, "text", "string")}\n`)
      return null
    case "slog":
      io.slog(1, need(p, "text", "string"))
      return null
    case "count": {
      const n = need(p, "n", "integer")
      const ms = "ms" in p ? need(p, "ms", "number") : 0
      const pad = "pad" in p ? need(p, "pad", "integer") : undefined
      if (n < 0 || ms < 0 || (pad ?? 0) < 0) throw new Fail("bad_request", "the fields of \"count\" must not be negative")
      return count(n, ms, pad, signal)
    }
    case "trace":
      return trace ?? null
    default:
      throw new Fail("bad_request", `unknown op ${JSON.stringify(p["op"])}: expected one of ${OPS.join(", ")}`)
  }
})
