/**
 * What tracing costs a pool request (SPEC §8 Tracing), in one run:
 * - none: `submit` outside any span (no `trace` field);
 * - field: `submit` inside a caller's span, `spans` off — the span's
 *   context goes as `trace` (what the command line pays with no exporter
 *   when a request comes with a `traceparent`);
 * - spans: `spans` on — a queue span and an exec span per request, made by
 *   Effect's own tracer (not exported: the exporter's batching is off the
 *   request's path).
 * 64 B echo requests from 64 callers, 2 workers, 64 in flight each; three
 * rounds, interleaved, each in its own process; medians, and ratios to none.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Logger } from "effect"
import { make } from "../src/pool/pool.ts"
import { medians } from "./isolated.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const workerScript = path.join(here, "../examples/pool-worker.ts")
const payload = { op: "echo", value: "x".repeat(38) }
const TOTAL = 40_000
const CONCURRENCY = 64

const runCase = (variant: string) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pool = yield* make({ command: process.execPath, args: [workerScript], workers: 2, maxInFlight: 64, spans: variant === "spans" })
    yield* pool.whenReady
    while (pool.view().ready < 2) yield* Effect.sleep(2)
    const run = (n: number) =>
      Effect.gen(function*() {
        let next = 0
        const loop = Effect.whileLoop({ while: () => next++ < n, body: () => pool.submit(payload), step: () => {} })
        // each caller in a span of its own (made once: the bench measures liege's part, not the caller's spans)
        const caller = variant === "none" ? loop : Effect.withSpan(loop, "caller")
        const t0 = performance.now()
        yield* Effect.all(Array.from({ length: CONCURRENCY }, () => caller), { concurrency: "unbounded", discard: true })
        return Math.round(n / ((performance.now() - t0) / 1000))
      })
    yield* run(2_000)
    return yield* run(TOTAL)
  })).pipe(Effect.provide(Logger.layer([]))))

const tracing = async () => {
  const m = await medians(fileURLToPath(import.meta.url), ["none", "field", "spans"])
  return {
    bench: "pool-tracing",
    payloadBytes: 64,
    concurrency: CONCURRENCY,
    workers: 2,
    window: 64,
    perSec: { none: m("none"), field: m("field"), spans: m("spans") },
    ratio: { field: Number((m("field") / m("none")).toFixed(2)), spans: Number((m("spans") / m("none")).toFixed(2)) }
  }
}

export const benches = [tracing]

if (import.meta.main && process.argv[2] === "case") {
  process.stdout.write(String(await runCase(process.argv[3]!)))
  process.exit(0)
}
