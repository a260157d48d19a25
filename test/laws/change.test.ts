/**
 * Change without downtime, as a law (SPEC §5 Reload, Sizing and limits):
 * across generated interleavings of requests, reloads, recycling (ttl,
 * maxJobs), an elastic pool's growing and shrinking, workers killed behind
 * the pool's back and requests that crash their worker, with real worker
 * processes:
 *
 * 7a. every accepted request gets exactly one answer;
 * 7b. never more ready workers than MAX;
 * 7c. while boots succeed and nothing is killed: every reload succeeds, the
 *     pool never has fewer ready workers than when a reload began, and no
 *     request fails;
 * 7d. no worker process is left behind.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger } from "effect"
import fc from "fast-check"
import { make } from "../../src/pool/pool.ts"
import { faulty, readyWorkers } from "../support/pools.ts"
import { liveProcesses } from "../support/proc.ts"

/** Actions, with faults (workers killed behind the pool's back, requests that crash theirs) or without. */
const actions = fc.boolean().chain((faults) =>
  fc.array(
    fc.record({
      kind: faults
        ? fc.constantFrom("echo", "echo", "sleep", "reload", "kill", "crash")
        : fc.constantFrom("echo", "echo", "echo", "sleep", "sleep", "reload", "reload"),
      ms: fc.integer({ min: 0, max: 60 }),
      /** start this long after the previous action */
      delay: fc.integer({ min: 0, max: 40 })
    }),
    { minLength: 2, maxLength: 14 }
  )
)

const config = fc.record({
  min: fc.integer({ min: 1, max: 2 }),
  extra: fc.integer({ min: 0, max: 2 }),
  ttl: fc.constantFrom(0, 0, 250),
  maxJobs: fc.constantFrom(0, 0, 4),
  readyDelay: fc.constantFrom("0", "80")
})

const alive = (tag: string) => liveProcesses({ env: `LAW_CHANGE=${tag}` }).map((p) => p.pid)

describe("pool laws: change without downtime", () => {
  it("7. reloads, recycling, scaling, kills and requests, interleaved", async () => {
    let runs = 0
    await fc.assert(
      fc.asyncProperty(actions, config, (actions, c) =>
        Effect.runPromise(Effect.gen(function*() {
          const tag = `${process.pid}-${runs++}`
          const max = c.min + c.extra
          const calm = !actions.some((a) => a.kind === "kill" || a.kind === "crash")
          const accepted = new Set<number>()
          const answered = new Map<number, number>()
          const violations: Array<string> = []
          yield* Effect.scoped(Effect.gen(function*() {
            const pool = yield* make({
              ...faulty({ LAW_CHANGE: tag, FAULTY_READY_DELAY: c.readyDelay }),
              workers: max === c.min ? max : `${c.min}..${max}`,
              idleTtl: max === c.min ? undefined : 150,
              ...(c.ttl > 0 ? { ttl: c.ttl } : {}),
              maxJobs: c.maxJobs,
              grace: 200,
              maxRestarts: 1000
            }, {
              onAccept: (id) => accepted.add(id),
              onAnswer: (id) => answered.set(id, (answered.get(id) ?? 0) + 1)
            })
            yield* readyWorkers(pool, c.min)
            /** The ready workers when each reload under way began. */
            let floor: number | undefined = undefined
            const watch = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.sync(() => {
              const v = pool.view()
              if (v.ready > max) violations.push(`${v.ready} ready workers, more than ${max}`)
              if (v.reload.running === null) floor = undefined
              else if (floor !== undefined && v.ready < floor && calm && c.maxJobs === 0) {
                violations.push(`${v.ready} ready workers during a reload that began with ${floor}`)
              }
            }), Effect.sleep(2))))
            const requests: Array<Fiber.Fiber<Exit.Exit<unknown, unknown>>> = []
            const reloads: Array<Fiber.Fiber<Exit.Exit<unknown, unknown>>> = []
            for (const a of actions) {
              yield* Effect.sleep(a.delay)
              if (a.kind === "reload") {
                const before = pool.view()
                if (before.reload.running === null) floor = before.ready
                const from = floor ?? before.ready
                reloads.push(yield* Effect.forkChild(Effect.exit(pool.reload.pipe(Effect.tap(() =>
                  Effect.sync(() => {
                    // done: every slot has its new worker, ready (idle workers let go since aside)
                    const after = pool.view()
                    const ready = after.ready + after.size.down - before.size.down
                    if (calm && c.maxJobs === 0 && ready < from) violations.push(`${ready} ready workers after a reload that began with ${from}`)
                  })
                )))))
              } else if (a.kind === "kill") {
                const pids = pool.pids()
                if (pids.length > 0) {
                  try {
                    process.kill(pids[a.ms % pids.length]!, "SIGKILL")
                  } catch {
                    // gone already
                  }
                }
              } else {
                const payload = a.kind === "echo" ? { op: "echo", value: a.ms } : a.kind === "sleep" ? { op: "sleep", ms: a.ms } : { op: "crash-before" }
                requests.push(yield* Effect.forkChild(Effect.exit(pool.submit(payload))))
              }
            }
            const exits = yield* Effect.forEach(requests, (f) => Fiber.join(f)).pipe(Effect.timeout(30_000))
            const reloaded = yield* Effect.forEach(reloads, (f) => Fiber.join(f)).pipe(Effect.timeout(30_000))
            yield* Fiber.interrupt(watch)
            if (calm) {
              expect(exits.filter(Exit.isFailure)).toEqual([])
              expect(reloaded.filter(Exit.isFailure)).toEqual([])
            }
            expect(pool.view().inFlight).toBe(0)
          }))
          // 7a
          for (const id of accepted) expect(answered.get(id)).toBe(1)
          for (const id of answered.keys()) expect(accepted.has(id)).toBe(true)
          // 7b, 7c
          expect(violations).toEqual([])
          // 7d
          expect(alive(tag)).toEqual([])
        }).pipe(Effect.provide(Logger.layer([]))))
      ),
      { numRuns: 12, endOnFailure: true }
    )
  }, 240_000)
})
