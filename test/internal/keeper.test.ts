/**
 * The keeper (src/internal/keeper.ts) on a TestClock, with a child spec of
 * the test's own: which ends are restarts, which count, the backoff between
 * them, the intensity window, the record of each restart, and stopping.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as Keeper from "../../src/internal/keeper.ts"
import * as RestartPolicy from "../../src/internal/restart-policy.ts"

type End = "crash" | "fail" | "quit" | "stop"

/** A child spec that plays `ends` in order; what it saw is recorded. */
const scripted = (ends: ReadonlyArray<End>, onExceeded: boolean) => {
  const seen = { runs: 0, exceeded: 0, delays: [] as Array<number> }
  const spec: Keeper.ChildSpec<End> = {
    run: (n) => Effect.sync(() => {
      seen.runs = n
      return { end: ends[n - 1] ?? "stop", upMs: 0, exit: { code: 1, signal: null } }
    }),
    verdict: ({ end }) =>
      Effect.succeed<Keeper.Verdict>(
        end === "stop" ? Keeper.Stop
          : end === "quit" ? Keeper.Next
          : { _tag: "Restart", kind: end, reason: `it ${end}ed`, counts: end === "fail" }
      ),
    exceeded: () => Effect.sync(() => (seen.exceeded++, onExceeded)),
    restarting: (_restart, delayMs) => Effect.sync(() => void seen.delays.push(delayMs))
  }
  return { spec, seen }
}

const policy = (maxRestarts: number) =>
  Effect.gen(function*() {
    return {
      intensity: yield* RestartPolicy.intensity({ maxRestarts, windowMs: 10_000 }),
      backoff: yield* RestartPolicy.backoff({ windowMs: 10_000, firstDelay: 100, maxDelay: 1000, jitter: false }),
      restarts: new Keeper.RestartLog()
    }
  })

describe("keeper", () => {
  it.effect("a restart waits its backoff on the clock; a Next starts at once; every restart is recorded with its kind", () =>
    Effect.gen(function*() {
      const { spec, seen } = scripted(["crash", "quit", "crash", "stop"], true)
      const p = yield* policy(10)
      const fiber = yield* Effect.forkChild(Keeper.keep(spec, p))
      yield* Effect.yieldNow
      assert.strictEqual(seen.runs, 1) // crashed: waiting 100 ms
      yield* TestClock.adjust(99)
      assert.strictEqual(seen.runs, 1)
      yield* TestClock.adjust(1)
      // the second quit: the third starts at once, crashes, and waits 200 ms
      assert.strictEqual(seen.runs, 3)
      yield* TestClock.adjust(200)
      yield* Fiber.join(fiber)
      assert.strictEqual(seen.runs, 4)
      assert.deepStrictEqual(seen.delays, [100, 200])
      assert.strictEqual(p.restarts.total, 2)
      assert.deepStrictEqual(Object.fromEntries(p.restarts.byKind), { crash: 2 })
      assert.deepStrictEqual(p.restarts.recent.map((r) => [r.kind, r.counted, r.code]), [["crash", false, 1], ["crash", false, 1]])
    }))

  it.effect("more counted restarts than maxRestarts within the window: exceeded decides (stop here)", () =>
    Effect.gen(function*() {
      const { spec, seen } = scripted(["fail", "crash", "fail", "fail"], false)
      const p = yield* policy(2)
      const fiber = yield* Effect.forkChild(Keeper.keep(spec, p))
      for (let i = 0; i < 4; i++) yield* TestClock.adjust(1000)
      yield* Fiber.join(fiber)
      // fail, crash (uncounted), fail: 2 counted; the third fail is one too many
      assert.strictEqual(seen.runs, 4)
      assert.strictEqual(seen.exceeded, 1)
      assert.deepStrictEqual(p.restarts.recent.map((r) => r.counted), [true, false, true, true])
    }))

  it.effect("law: whatever the ends, runs = ends played, restarts = crashes + fails, and the keeper stops exactly when told", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(fc.constantFrom<End>("crash", "fail", "quit"), { maxLength: 12 }), (ends) =>
          Effect.runPromise(Effect.gen(function*() {
            const { spec, seen } = scripted([...ends, "stop"], true)
            const p = yield* policy(1000)
            const fiber = yield* Effect.forkChild(Keeper.keep(spec, p))
            while (fiber.pollUnsafe() === undefined) yield* TestClock.adjust(1000)
            assert.strictEqual(seen.runs, ends.length + 1)
            assert.strictEqual(p.restarts.total, ends.filter((e) => e !== "quit").length)
            assert.strictEqual(seen.delays.length, p.restarts.total)
          }).pipe(Effect.provide(TestClock.layer())))
        ),
        { numRuns: 50 }
      )
    ))
})
