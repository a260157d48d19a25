/**
 * Change without downtime (SPEC §5 Reload, Sizing), measured:
 * - reload: 4 workers (`examples/pool-worker.ts`), 16 callers sending echo
 *   requests; one reload in the middle: requests failed, the longest gap
 *   between two answers while it ran, how long it took, and requests per
 *   second during it against the same pool's steady rate just before
 *   (ratio);
 * - elastic: `workers: "1..4"`, 16 callers each sending 20 ms sleeps: the
 *   time from the first request to 4 ready workers, and requests per second
 *   over 3 s against a fixed pool of 4 (ratio).
 * Three rounds; medians.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Fiber, Logger } from "effect"
import { make, type Pool } from "../src/pool/pool.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const worker = { command: process.execPath, args: [path.join(here, "../examples/pool-worker.ts")] }
const quiet = Logger.layer([])
const ROUNDS = 3

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** `callers` fibers sending `payload` until stopped: answers (with their times) and failures. */
const load = (pool: Pool, callers: number, payload: unknown) =>
  Effect.gen(function*() {
    const s = { stop: false, at: [] as Array<number>, failed: 0 }
    const fibers = yield* Effect.forEach(Array.from({ length: callers }), () =>
      Effect.forkChild(Effect.gen(function*() {
        while (!s.stop) {
          const r = yield* Effect.result(pool.submit(payload))
          s.at.push(performance.now())
          if (r._tag === "Failure") s.failed++
        }
      })))
    return { s, stop: Effect.andThen(Effect.sync(() => void (s.stop = true)), Fiber.joinAll(fibers)) }
  })

const within = (at: ReadonlyArray<number>, from: number, to: number) => at.filter((t) => t >= from && t <= to)

const reloadRound = Effect.scoped(Effect.gen(function*() {
  const pool = yield* make({ ...worker, workers: 4 })
  while (pool.view().ready < 4) yield* Effect.sleep(5)
  const l = yield* load(pool, 16, { op: "echo", value: 1 })
  yield* Effect.sleep(1500)
  const t0 = performance.now()
  yield* pool.reload
  const t1 = performance.now()
  yield* l.stop
  const during = within(l.s.at, t0, t1)
  let gap = 0
  for (let i = 1; i < during.length; i++) gap = Math.max(gap, during[i]! - during[i - 1]!)
  const steady = within(l.s.at, t0 - 1000, t0).length
  return { failed: l.s.failed, gapMs: gap, reloadMs: t1 - t0, ratio: during.length / ((t1 - t0) / 1000) / steady }
}))

const rate = (workers: number | string) =>
  Effect.scoped(Effect.gen(function*() {
    const pool = yield* make({ ...worker, workers })
    yield* pool.whenReady
    const t0 = performance.now()
    const l = yield* load(pool, 16, { op: "sleep", ms: 20 })
    let grownMs = NaN
    while (performance.now() - t0 < 3000) {
      if (Number.isNaN(grownMs) && pool.view().ready === 4) grownMs = performance.now() - t0
      yield* Effect.sleep(2)
    }
    yield* l.stop
    return { perSec: within(l.s.at, t0, t0 + 3000).length / 3, grownMs }
  }))

export const benches = [
  () =>
    Effect.runPromise(Effect.gen(function*() {
      const rounds = []
      for (let i = 0; i < ROUNDS; i++) rounds.push(yield* reloadRound)
      return {
        bench: "change.reload",
        workers: 4,
        callers: 16,
        failed: rounds.reduce((n, r) => n + r.failed, 0),
        longestGapMs: Math.round(median(rounds.map((r) => r.gapMs))),
        reloadMs: Math.round(median(rounds.map((r) => r.reloadMs))),
        ratioDuringReload: Number(median(rounds.map((r) => r.ratio)).toFixed(2))
      }
    }).pipe(Effect.provide(quiet))),
  () =>
    Effect.runPromise(Effect.gen(function*() {
      const elastic = []
      const fixed = []
      for (let i = 0; i < ROUNDS; i++) {
        elastic.push(yield* rate("1..4"))
        fixed.push(yield* rate(4))
      }
      const e = median(elastic.map((r) => r.perSec))
      const f = median(fixed.map((r) => r.perSec))
      return {
        bench: "change.elastic",
        workers: "1..4",
        callers: 16,
        minToMaxMs: Math.round(median(elastic.map((r) => r.grownMs))),
        perSec: Math.round(e),
        fixed4PerSec: Math.round(f),
        ratio: Number((e / f).toFixed(2))
      }
    }).pipe(Effect.provide(quiet)))
]
