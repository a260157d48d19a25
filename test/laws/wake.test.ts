/**
 * Wake ladder laws (SPEC §6), on the TestClock:
 * no wake after observation; waking continues past any fixed count until
 * observed; an already-observed order never wakes; orders are independent;
 * shutdown is idempotent and drops later orders. Also: the waits double
 * from initialBackoff up to cap.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { make } from "../../src/wake/ladder.ts"

const Count = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 300 }))

/** A consumer that runs (is observed) at its k-th wake. */
const consumer = (k: number) => {
  let wakes = 0
  return {
    wake: Effect.sync(() => {
      wakes++
    }),
    done: Effect.sync(() => wakes >= k),
    wakes: () => wakes
  }
}

describe("wake ladder laws", () => {
  it.effect.prop("wakes exactly until observed, past any fixed count, never after", [Count], ([k]) =>
    Effect.gen(function*() {
      const ladder = yield* make({ initialBackoff: 1, cap: 1000 })
      const c = consumer(k)
      yield* ladder.confirm(c.wake, c.done)
      yield* TestClock.adjust("2 hours")
      assert.strictEqual(c.wakes(), k)
      yield* TestClock.adjust("2 hours")
      assert.strictEqual(c.wakes(), k)
      assert.strictEqual(yield* ladder.pending, 0)
    }).pipe(Effect.scoped), { arbitrary: { runs: 40 } })

  it.effect.prop("orders are independent (one failing wake does not stop the others)", [Schema.Array(Count).check(Schema.isMaxLength(8))], ([ks]) =>
    Effect.gen(function*() {
      const ladder = yield* make({ initialBackoff: "2 millis", cap: "500 millis" })
      const consumers = ks.map(consumer)
      let failing = 0
      yield* ladder.confirm(Effect.andThen(Effect.sync(() => failing++), Effect.fail("boom")), Effect.succeed(false))
      for (const c of consumers) yield* ladder.confirm(c.wake, c.done)
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(consumers.map((c) => c.wakes()), [...ks])
      assert.isAbove(failing, 100)
    }).pipe(Effect.scoped), { arbitrary: { runs: 30 } })

  it.effect("an order whose target already ran never wakes", () =>
    Effect.gen(function*() {
      const ladder = yield* make()
      const c = consumer(0)
      yield* ladder.confirm(c.wake, c.done)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(c.wakes(), 0)
    }).pipe(Effect.scoped))

  it.effect("the waits double from initialBackoff up to cap", () =>
    Effect.gen(function*() {
      const ladder = yield* make({ initialBackoff: 10, cap: 100 })
      const times: Array<number> = []
      yield* ladder.confirm(Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => times.push(t))), Effect.sync(() => times.length >= 7))
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(times, [10, 30, 70, 150, 250, 350, 450])
    }).pipe(Effect.scoped))

  it.effect("shutdown is idempotent and drops orders made after it", () =>
    Effect.gen(function*() {
      const ladder = yield* make()
      const before = consumer(1000)
      yield* ladder.confirm(before.wake, before.done)
      yield* TestClock.adjust("10 millis")
      const woken = before.wakes()
      yield* ladder.shutdown
      yield* ladder.shutdown
      const after = consumer(5)
      yield* ladder.confirm(after.wake, after.done)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(before.wakes(), woken)
      assert.strictEqual(after.wakes(), 0)
      assert.strictEqual(yield* ladder.pending, 0)
    }).pipe(Effect.scoped))

  it.effect("initialBackoff is at least 50 µs; bad options are refused", () =>
    Effect.gen(function*() {
      const ladder = yield* make({ initialBackoff: 0, cap: 10 })
      const c = consumer(1)
      yield* ladder.confirm(c.wake, c.done)
      yield* TestClock.adjust(Schema.decodeSync(Schema.Number)(0.04))
      assert.strictEqual(c.wakes(), 0)
      yield* TestClock.adjust(1)
      assert.strictEqual(c.wakes(), 1)
      const e = yield* Effect.flip(make({ cap: -1 }))
      assert.strictEqual(e._tag, "InvalidOptions")
    }).pipe(Effect.scoped))
})
