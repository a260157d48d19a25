/**
 * Pool laws (SPEC §5), over generated worker faults (crash before or after
 * answering, hang, garbage frame, wrong id, slow ready, a worker that clings
 * to a cancelled request) and generated caller interruptions, with real
 * worker processes:
 *
 * 1. every accepted request gets exactly one answer (or, its caller gone, is cancelled);
 * 2. never more than N workers alive, nor more than maxInFlight requests on one worker;
 * 3. no request waits while a worker has room;
 * 4. restarts and recycling never leave a process behind.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { make } from "../../src/pool/pool.ts"
import { faulty } from "../support/pools.ts"
import { tempDir } from "../support/serfs.ts"

const payload = fc.oneof(
  { weight: 6, arbitrary: fc.integer().map((value) => ({ op: "echo", value })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 80 }).map((ms) => ({ op: "sleep", ms })) },
  { weight: 1, arbitrary: fc.constantFrom(
    { op: "crash-before" },
    { op: "crash-after" },
    { op: "hang" },
    { op: "garbage" },
    { op: "wrong-id" },
    { op: "fail" },
    { op: "stubborn", ms: 400 }
  ) }
)

const call = fc.record({
  payload,
  /** start this long after the previous call */
  delay: fc.integer({ min: 0, max: 30 }),
  /** interrupt the caller after this long, if set */
  interruptAfter: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined })
})

/** Live processes carrying `tag` in their environment. */
const alive = (tag: string): Array<number> => {
  const needle = Buffer.from(`LAW_POOL=${tag}\0`)
  const out: Array<number> = []
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (!fs.readFileSync(`/proc/${name}/environ`).includes(needle)) continue
      const stat = fs.readFileSync(`/proc/${name}/stat`, "latin1")
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
      if (state !== "Z" && state !== "X") out.push(Number(name))
    } catch {
      // gone
    }
  }
  return out
}

describe("pool laws", () => {
  it("1–4 hold under generated faults and interruptions", async () => {
    let runs = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(call, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom("0", "0", "150"),
        (calls, workers, maxInFlight, readyDelay) =>
          Effect.runPromise(Effect.gen(function*() {
            const tag = `${process.pid}-${runs++}`
            const dir = tempDir("liege-pool-law-")
            const log = path.join(dir, "inflight")
            const accepted = new Set<number>()
            const answered = new Map<number, number>()
            const cancelled = new Set<number>()
            const violations: Array<string> = []
            try {
              yield* Effect.scoped(Effect.gen(function*() {
                const pool = yield* make({
                  ...faulty({ LAW_POOL: tag, FAULTY_MAX_LOG: log, FAULTY_READY_DELAY: readyDelay }),
                  workers,
                  maxInFlight,
                  execTimeout: 300,
                  cancelGrace: 100,
                  grace: 200,
                  maxRestarts: 1000
                }, {
                  onAccept: (id) => accepted.add(id),
                  onAnswer: (id) => answered.set(id, (answered.get(id) ?? 0) + 1),
                  onCancel: (id) => cancelled.add(id)
                })
                // 2 and 3, sampled while the calls run
                const watch = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.sync(() => {
                  const s = pool.stats()
                  if (s.queued > 0 && s.withRoom > 0) violations.push(`queued ${s.queued} while ${s.withRoom} workers had room`)
                  const n = alive(tag).length
                  if (n > workers) violations.push(`${n} workers alive, more than ${workers}`)
                }), Effect.sleep(3))))
                const fibers = []
                for (const c of calls) {
                  yield* Effect.sleep(c.delay)
                  const f = yield* Effect.forkChild(Effect.exit(pool.submit(c.payload)))
                  fibers.push(f)
                  if (c.interruptAfter !== undefined) {
                    yield* Effect.forkChild(Effect.andThen(Effect.sleep(c.interruptAfter), Fiber.interrupt(f)))
                  }
                }
                // every caller ends: answered, or interrupted — nobody waits forever
                yield* Effect.forEach(fibers, (f) => Fiber.await(f), { discard: true }).pipe(Effect.timeout(20_000))
                yield* Fiber.interrupt(watch)
                expect(pool.stats().inFlight).toBe(0)
                expect(pool.stats().queued).toBe(0)
              }))
              // 1. exactly one answer per accepted request, or cancelled (its caller gone)
              for (const id of accepted) {
                const n = answered.get(id) ?? 0
                if (cancelled.has(id)) expect(n).toBe(0)
                else expect(n).toBe(1)
              }
              for (const id of answered.keys()) expect(accepted.has(id)).toBe(true)
              expect(violations).toEqual([])
              // 2. (worker side) never more than maxInFlight held at once
              if (fs.existsSync(log)) {
                const seen = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => Number(l.split(" ")[1]))
                expect(Math.max(...seen)).toBeLessThanOrEqual(maxInFlight)
              }
              // 4. nothing left behind
              expect(alive(tag)).toEqual([])
            } finally {
              fs.rmSync(dir, { recursive: true, force: true })
            }
          }).pipe(Effect.provide(Logger.layer([]))))
      ),
      { numRuns: 14, endOnFailure: true }
    )
  }, 240_000)
})
