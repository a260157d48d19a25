/**
 * Supervisor laws (SPEC §4), over generated child behaviours and generated
 * interruption points of the owning fiber:
 *
 * 1. exactly one result, whatever the behaviour and wherever the owner is interrupted;
 * 2. Clean ⇔ the supervisor sent no signal, and the classification matches SPEC §4;
 * 3. after the scope closes, no process of the group is alive;
 * 4. the escalation ends within 2·grace + killWait plus a margin.
 *
 * Every case runs a real process, so the number of runs is modest.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Logger, Option } from "effect"
import fc from "fast-check"
import { type Child, spawn } from "../../src/supervisor/child.ts"
import { isAlive, liveMembers } from "../../src/supervisor/group.ts"
import { type Behaviour, behaving } from "../support/behave.ts"

const GRACE = 100
const KILL_WAIT = 100
const BOUND = 2 * GRACE + KILL_WAIT
const MARGIN = 750 // generous: the suite shares two cores

const behaviour: fc.Arbitrary<Behaviour> = fc.record({
  exitAfter: fc.option(fc.integer({ min: 0, max: 300 }), { nil: null }),
  code: fc.integer({ min: 0, max: 255 }),
  onTerm: fc.oneof(
    fc.constant("default" as const),
    fc.constant("ignore" as const),
    fc.record({ exitAfter: fc.integer({ min: 0, max: 250 }), code: fc.integer({ min: 0, max: 255 }) })
  ),
  onStdinEnd: fc.constantFrom("exit" as const, "ignore" as const),
  grandchild: fc.boolean(),
  closeStdout: fc.boolean(),
  floodStderr: fc.constantFrom(0, 0, 1 << 20)
}).map(({ exitAfter, ...rest }): Behaviour => exitAfter === null ? rest : { ...rest, exitAfter })

const scenario = fc.record({
  behaviour,
  /** when the owner is interrupted (ms after the spawn) */
  interruptAt: fc.integer({ min: 0, max: 400 }),
  /** when the owner asks for stop, if it does */
  stopAt: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined })
})

const runCase = (s: typeof scenario extends fc.Arbitrary<infer A> ? A : never) =>
  Effect.gen(function*() {
    const b = behaving(s.behaviour)
    const handle = yield* Deferred.make<Child>()
    const owner = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
      const c = yield* spawn({ command: b.command, args: b.args, grace: GRACE, killWait: KILL_WAIT, stdout: "log" })
      yield* Deferred.succeed(handle, c)
      if (s.stopAt !== undefined) {
        yield* Effect.sleep(s.stopAt)
        yield* c.stop
      }
      return yield* Effect.never
    })))
    const child = yield* Deferred.await(handle)
    yield* Effect.sleep(s.interruptAt)
    const t0 = performance.now()
    yield* Fiber.interrupt(owner)
    const closeMs = performance.now() - t0

    // 1. exactly one result: published by the end of the escalation, the same on every read
    const first = yield* Effect.timeoutOption(child.result, 50)
    expect(Option.isSome(first)).toBe(true)
    const r = Option.getOrThrow(first)
    expect(yield* child.result).toBe(r)
    expect(yield* child.stop).toBe(r)

    // 2. Clean ⇔ no signal sent; the classification is SPEC §4's
    const report = b.report()
    switch (r.termination) {
      case "Clean":
        expect(r.sent).toBeNull()
        expect(report.signals).toEqual([])
        expect(r.code !== null || r.signal !== null).toBe(true)
        break
      case "Escalated":
        expect(r.sent).not.toBeNull()
        expect(r.code !== null || r.signal !== null || r.sent === "SIGKILL").toBe(true)
        break
      case "Indeterminate":
        expect(r.sent).not.toBe("SIGKILL")
        expect(r.code === null && r.signal === null).toBe(true)
    }
    if (report.signals.length > 0) expect(r.termination).toBe("Escalated")
    const bh = s.behaviour
    if (report.ready && bh.exitAfter === undefined && bh.onStdinEnd === "ignore" && bh.onTerm === "ignore") {
      // a child that never leaves on its own and ignores SIGTERM is killed (one that was still
      // starting when SIGTERM came had no handler yet: SIGTERM ended it)
      expect(r.toReport()).toMatchObject({ termination: "Escalated", signal: "SIGKILL" })
      expect(r.sent).toBe("SIGKILL")
    }
    if (bh.exitAfter === undefined && bh.onStdinEnd === "ignore" && bh.onTerm === "default") {
      expect(r.toReport()).toMatchObject({ termination: "Escalated", signal: "SIGTERM" })
    }

    // 3. nothing of the group is left
    expect(liveMembers(child.pid)).toEqual([])
    if (report.grandchild !== undefined) expect(isAlive(report.grandchild)).toBe(false)

    // 4. bounded escalation
    expect(closeMs).toBeLessThan(BOUND + MARGIN)
  }).pipe(Effect.provide(Logger.layer([])))

describe("supervisor laws", () => {
  it("hold for generated behaviours and interruption points", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, (s) => Effect.runPromise(runCase(s))),
      { numRuns: 30, endOnFailure: true }
    )
  }, 120_000)
})
