/**
 * The shared restart policy (SPEC §3, §5) on the TestClock: the intensity
 * window, uncounted deaths, the capped backoff and its reset.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import * as RestartPolicy from "../../src/internal/restart-policy.ts"

const ms = (d: Duration.Duration) => Duration.toMillis(d)

describe("restart policy", () => {
  it.effect("more than maxRestarts counted failures within the window is exceeded; older ones fall out", () =>
    Effect.gen(function*() {
      const policy = yield* RestartPolicy.make({ maxRestarts: 2, windowMs: 1000, jitter: false })
      const crash = { counts: true, upMs: 0 }
      assert.isFalse((yield* policy.ended(crash)).exceeded)
      assert.isFalse((yield* policy.ended(crash)).exceeded)
      assert.isTrue((yield* policy.ended(crash)).exceeded)
      yield* TestClock.adjust("1001 millis")
      assert.strictEqual(yield* policy.recent, 0)
      assert.isFalse((yield* policy.ended(crash)).exceeded)
    }))

  it.effect("deaths that do not count never exceed, however many", () =>
    Effect.gen(function*() {
      const policy = yield* RestartPolicy.make({ maxRestarts: 1, windowMs: 1000, jitter: false })
      for (let i = 0; i < 20; i++) assert.isFalse((yield* policy.ended({ counts: false, upMs: 0 })).exceeded)
      assert.strictEqual(yield* policy.recent, 0)
    }))

  it.effect("the backoff doubles from its first step up to the cap", () =>
    Effect.gen(function*() {
      const policy = yield* RestartPolicy.make({ maxRestarts: 100, windowMs: 60_000, firstDelay: 50, maxDelay: 1000, jitter: false })
      const delays: Array<number> = []
      for (let i = 0; i < 7; i++) delays.push(ms((yield* policy.ended({ counts: true, upMs: 10 })).delay))
      assert.deepStrictEqual(delays, [50, 100, 200, 400, 800, 1000, 1000])
    }))

  it.effect("a process up for restartWindow starts the backoff again from its first step", () =>
    Effect.gen(function*() {
      const policy = yield* RestartPolicy.make({ maxRestarts: 100, windowMs: 2000, firstDelay: 50, jitter: false })
      for (let i = 0; i < 5; i++) yield* policy.ended({ counts: true, upMs: 100 })
      assert.strictEqual(ms((yield* policy.ended({ counts: true, upMs: 1999 })).delay), 1600)
      assert.strictEqual(ms((yield* policy.ended({ counts: true, upMs: 2000 })).delay), 50)
      assert.strictEqual(ms((yield* policy.ended({ counts: true, upMs: 0 })).delay), 100)
    }))

  it.effect("first: true uses the first step (poison isolation)", () =>
    Effect.gen(function*() {
      const policy = yield* RestartPolicy.make({ maxRestarts: 100, windowMs: 60_000, firstDelay: 50, jitter: false })
      for (let i = 0; i < 5; i++) yield* policy.ended({ counts: true, upMs: 0 })
      assert.strictEqual(ms((yield* policy.ended({ counts: false, upMs: 0, first: true })).delay), 50)
    }))

  it.effect("jitter keeps every step within 0.8–1.2 of its nominal delay", () =>
    Effect.gen(function*() {
      const policy = yield* RestartPolicy.make({ maxRestarts: 100, windowMs: 60_000, firstDelay: 100, maxDelay: 400 })
      const nominal = [100, 200, 400, 400, 400]
      for (const n of nominal) {
        const d = ms((yield* policy.ended({ counts: true, upMs: 0 })).delay)
        assert.isTrue(d >= n * 0.8 && d <= n * 1.2, `${d} for ${n}`)
      }
    }))

  it.effect("intensity and backoff apart: one window for many slots, one backoff each", () =>
    Effect.gen(function*() {
      const window = yield* RestartPolicy.intensity({ maxRestarts: 2, windowMs: 1000 })
      const a = yield* RestartPolicy.backoff({ windowMs: 1000, firstDelay: 50, jitter: false })
      const b = yield* RestartPolicy.backoff({ windowMs: 1000, firstDelay: 50, jitter: false })
      // slot a crashes three times: its own steps grow, slot b's do not
      assert.deepStrictEqual(
        [ms(yield* a.next({ upMs: 0 })), ms(yield* a.next({ upMs: 0 })), ms(yield* a.next({ upMs: 0 }))],
        [50, 100, 200]
      )
      assert.strictEqual(ms(yield* b.next({ upMs: 0 })), 50)
      // the window is the pool's: failures of both slots add up
      assert.isFalse((yield* window.record(true)).exceeded)
      assert.isFalse((yield* window.record(false)).exceeded)
      assert.isFalse((yield* window.record(true)).exceeded)
      assert.isTrue((yield* window.record(true)).exceeded)
      assert.strictEqual(yield* window.recent, 3)
      yield* TestClock.adjust("1001 millis")
      assert.strictEqual(yield* window.recent, 0)
    }))

  it.effect("a backoff starts again from its first step once up for its window", () =>
    Effect.gen(function*() {
      const slot = yield* RestartPolicy.backoff({ windowMs: 2000, firstDelay: 100, maxDelay: 5000, jitter: false })
      for (let i = 0; i < 8; i++) yield* slot.next({ upMs: 50 })
      assert.strictEqual(ms(yield* slot.next({ upMs: 1999 })), 5000)
      assert.strictEqual(ms(yield* slot.next({ upMs: 20_000 })), 100)
      assert.strictEqual(ms(yield* slot.next({ upMs: 0 })), 200)
    }))
})
