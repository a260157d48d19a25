/**
 * One clock: a pier's restarts wait on Effect's `Clock`, so under a
 * `TestClock` a killed serf's successor starts when the test clock passes
 * the backoff — and not before, however much real time goes by.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import { open } from "../../src/pier/pier.ts"
import { until } from "../support/procs.ts"
import { tempDir, testSerf } from "../support/serfs.ts"

/** Waits on real time (a process starting or dying) under a test whose clock is a TestClock. */
const live = TestClock.withLive

describe("a pier on a TestClock", () => {
  it.effect("a killed serf is restarted when the test clock passes its backoff, not before", () => {
    const dir = tempDir("liege-pier-clock-")
    return Effect.gen(function*() {
      const pier = yield* open({ dir, ...testSerf() })
      yield* live(until(() => pier.ready()))
      expect(yield* pier.poke({ n: 1 })).toMatchObject({ _tag: "Done", eve: 1 })
      const first = pier.view().pid!
      process.kill(first, "SIGKILL")
      yield* live(until(() => pier.view().state === "restarting"))
      // the first backoff step is 50 ms (± 20 %): on the test clock, real time changes nothing
      yield* live(Effect.sleep(300))
      expect(pier.view().state).toBe("restarting")
      yield* TestClock.adjust(100)
      yield* live(until(() => pier.ready()))
      expect(pier.view().pid).not.toBe(first)
      expect(pier.view().restarts.recent[0]).toMatchObject({ kind: "died", counted: true, signal: "SIGKILL" })
      expect(yield* pier.poke({ n: 2 })).toMatchObject({ _tag: "Done", eve: 2 })
    }).pipe(
      Effect.scoped,
      Effect.provide(Logger.layer([])),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    )
  })
})
