/**
 * A request whose frame could not be written to its worker never reached it
 * (SPEC §5): it goes to the next ready worker instead of failing.
 */
import { describe, expect } from "@effect/vitest"
import { Effect, Fiber, FiberSet } from "effect"
import { make, type Pool } from "../../src/pool/pool.ts"
import { live } from "../support/live.ts"
import { faulty, readyWorkers } from "../support/pools.ts"
import { until } from "../support/procs.ts"
import { killUnnoticed } from "./unnoticed.ts"


const echo = (pool: Pool) => pool.submit({ op: "echo", value: 1 }) as Effect.Effect<{ pid: number }, unknown>

/**
 * Each kill is a death with nothing in flight (it counts, and the slot backs
 * off): a worker up for the (short) restart window starts the backoff again
 * from its first step, so the tries do not wait ever longer.
 */
const windowMs = 100
const upForTheWindow = (pool: Pool) =>
  Effect.gen(function*() {
    yield* readyWorkers(pool, pool.view().workers.length)
    yield* until(() => pool.view().workers.every((s) => s.readyAt !== null && Date.now() - s.readyAt > windowMs))
  })

describe("pool: unwritten requests", () => {
  live("a request sent to an idle worker that is already dead waits for the next worker", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, maxRestarts: 100, restartWindow: windowMs })
      for (let i = 0; i < 6; i++) {
        yield* upForTheWindow(pool)
        const [dead] = pool.pids()
        yield* killUnnoticed(dead!)
        const { pid } = yield* echo(pool)
        expect(pid).not.toBe(dead)
      }
    }))

  live("…or goes to another ready worker at once", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 2, maxRestarts: 100 })
      yield* readyWorkers(pool, 2)
      const [dead, other] = pool.pids()
      yield* killUnnoticed(dead!)
      // the dead one is the first idle worker: it is offered the request first
      expect((yield* echo(pool)).pid).toBe(other)
    }))

  live("killed a moment before the request (its exit or end of stdout maybe seen), the request is still served", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, maxRestarts: 100, restartWindow: windowMs, maxInFlight: 2 })
      for (let i = 0; i < 8; i++) {
        yield* upForTheWindow(pool)
        const [dead] = pool.pids()
        yield* killUnnoticed(dead!)
        yield* Effect.sleep(i % 4) // 0–3 ms: the pool may see the end of its stdout, its exit, both or neither
        const answers = yield* Effect.all([echo(pool), echo(pool)], { concurrency: 2 })
        for (const a of answers) expect(a.pid).not.toBe(dead)
      }
    }))

  live("a request whose frame was corked (sent while an answer was read) goes back to the queue when its flush fails at once", () =>
    Effect.gen(function*() {
      const runFork = yield* FiberSet.makeRuntime<never>()
      let late: Fiber.Fiber<{ pid: number }, unknown> | undefined = undefined
      let dead = 0
      const pool: Pool = yield* make({ ...faulty(), workers: 1, maxInFlight: 2, maxRestarts: 100 }, {
        // while the worker's answer is being read, the worker dies and another request is sent:
        // its frame is corked until the end of that chunk, when writing it fails (EPIPE)
        onAnswer: (id) => {
          if (id !== 1) return
          dead = pool.pids()[0]!
          Effect.runSync(killUnnoticed(dead))
          late = runFork(echo(pool))
        }
      })
      yield* echo(pool)
      const { pid } = yield* Fiber.join(late!)
      expect(pid).not.toBe(dead)
    }))
})
