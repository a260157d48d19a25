/**
 * Stuck serfs (SPEC §3): a serf that stays alive and stops answering is
 * found by `workTimeout`, counted from when its oldest writ became the
 * oldest, killed through the escalation and handled as a death with that
 * writ in flight: a stuck event goes through the poison isolation, a stuck
 * peek is a `Timeout`, a stuck replay a death with nothing to blame. Events
 * behind it wait and are answered; nothing acknowledged is lost.
 */
import { describe, expect } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { open, type PokeAnswer, type PokeError } from "../../src/pier/pier.ts"
import { readLog } from "../support/log.ts"
import { fixture, node, until } from "../support/procs.ts"
import { failureOf, pokeAll, testSerf } from "../support/serfs.ts"
import { liveIn } from "../support/live.ts"

const nodeSerf = { command: node, args: [fixture("poison-serf.ts")] }
const pythonSerf = { command: "python3", args: [fixture("hang_serf.py")] }
/** A short limit, and short escalation windows: a stuck serf is gone in about a second. */
const stuckFast = { workTimeout: "600 millis", stopGrace: "200 millis" } as const

const withDir = liveIn("liege-stuck-")


const doneEves = (answers: ReadonlyArray<Exit.Exit<PokeAnswer, PokeError>>) =>
  answers.map((a) => Exit.isSuccess(a) && a.value._tag !== "Bail" ? a.value.eve : failureOf(a)?._tag)

describe("stuck serfs", () => {
  for (const [language, serf] of [["Node", nodeSerf], ["Python", pythonSerf]] as const) {
    withDir(`a ${language} serf stuck on an event: the event is refused as poison, naming the limit; the rest are answered and logged once, in order`, (dir) =>
      Effect.gen(function*() {
        const events = [{ n: 1 }, { n: 2 }, { hang: true }, { n: 3 }, { n: 4 }]
        yield* Effect.scoped(Effect.gen(function*() {
        // no restart may count: the stuck event is to blame, twice
        const pier = yield* open({ dir, ...serf, ...stuckFast, maxInFlight: 4, maxRestarts: 0 })
        const answers = yield* pokeAll(pier, events)
        expect(doneEves(answers)).toEqual([1, 2, "SerfPoisoned", 3, 4])
        const poison = failureOf(answers[2]!)!
        expect(poison).toMatchObject({ _tag: "SerfPoisoned", stuckMs: 600 })
        expect(poison.message).toBe(
          "the serf did not answer this event within 600 ms (workTimeout) twice, the second time with it alone; it was refused and not logged"
        )
        const status = pier.view()
        expect(status.poisoned).toBe(1)
        // (answers the serf wrote but had not flushed when it got stuck are owed too: the oldest of them
        // goes alone first, survives, and the isolation moves on until the stuck event is alone)
        expect(status.restarts.recent.every((r) => !r.counted)).toBe(true)
        expect(status.restarts.recent.map((r) => r.poison).filter(Boolean)).toHaveLength(1)
        expect(status.restarts.recent[0]!.poison).toBe(true) // newest first
        for (const r of status.restarts.recent) expect(r.reason).toMatch(/is stuck: no answer to its work within 600 ms \(workTimeout\)$/)
        expect(status.restarts.byReason).toEqual({ stuck: status.restarts.total })
        // the pier goes on
        expect(yield* pier.poke({ n: 5 })).toMatchObject({ _tag: "Done", eve: 5 })
        }))
        expect(readLog(dir).map((r) => r.ev)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }])
      }), 20_000)
  }

  withDir("a window of slow but live events is never taken for stuck: the limit runs from when an event becomes the oldest", (dir) =>
    Effect.gen(function*() {
      // eight events of 150 ms each, all in flight at once: the last is answered 1.2 s after it was sent,
      // twice the limit, yet never more than 150 ms after the one before it
      const pier = yield* open({ dir, ...testSerf({ TEST_SERF_WAIT_MS: "150" }), workTimeout: "600 millis", maxInFlight: 8, maxRestarts: 0 })
      const answers = yield* pokeAll(pier, Array.from({ length: 8 }, (_, i) => ({ n: i + 1 })))
      expect(doneEves(answers)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
      expect(pier.view().restarts.total).toBe(0)
    }), 20_000)

  withDir("a stuck peek is a Timeout; the serf is killed, the next one serves, and the events behind the peek are answered", (dir) =>
    Effect.gen(function*() {
      const pier = yield* open({ dir, ...pythonSerf, ...stuckFast, maxRestarts: 1 })
      expect(yield* pier.poke({ n: 1 })).toMatchObject({ _tag: "Done", eve: 1 })
      const [peek, ...after] = yield* Effect.all([
        Effect.exit(pier.peek(["hang"])),
        Effect.exit(pier.poke({ n: 2 })),
        Effect.exit(pier.poke({ n: 3 }))
      ], { concurrency: "unbounded" })
      const timeout = failureOf(peek!)!
      expect(timeout).toMatchObject({ _tag: "Timeout", writ: "peek", ms: 600 })
      expect(timeout.message).toBe("the serf did not answer the peek within 600 ms (workTimeout); it was killed and is restarting")
      expect(doneEves(after)).toEqual([2, 3])
      expect(yield* pier.peek(["sum"])).toBe(6)
      // a serf stuck on a peek has no event to blame: it counts
      expect(pier.view().restarts.recent.map((r) => r.counted)).toEqual([true])
    }), 20_000)

  withDir("heartbeat: a serf that freezes while idle misses its pong, is killed and replaced, and counts", (dir) =>
    Effect.gen(function*() {
      const pier = yield* open({ dir, ...testSerf({ TEST_SERF_FREEZE_MS: "1200" }), heartbeat: "400 millis", stopGrace: "100 millis" })
      expect(yield* pier.poke({ n: 1 })).toMatchObject({ _tag: "Done", eve: 1 })
      const first = pier.view().pid
      // pinged every 400 ms while idle; 1200 ms after ripe it freezes, and the next ping goes unanswered
      yield* until(() => pier.view().restarts.total >= 1, 10_000, "the frozen serf's restart")
      const [restart] = pier.view().restarts.recent
      expect(restart).toMatchObject({ counted: true, poison: false })
      expect(restart!.reason).toBe(`serf ${first} is stuck: no answer to a ping within 400 ms (heartbeat)`)
      // the next serf serves
      expect(yield* pier.poke({ n: 2 })).toMatchObject({ _tag: "Done", eve: 2 })
    }), 20_000)

  withDir("a stuck replay is a death with nothing to blame: it counts, and the pier gives up past maxRestarts", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf() })
        for (let n = 1; n <= 3; n++) yield* pier.poke({ n })
      }))
      // no snapshot: the next serf replays the three events, and takes a minute over each batch
      fs.rmSync(path.join(dir, "test-serf.json"), { force: true })
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf({ TEST_SERF_PLAY_MS: "60000" }), ...stuckFast, maxRestarts: 0 })
        const fatal = yield* pier.fatal
        expect(fatal._tag).toBe("PierGaveUp")
        expect(fatal.message).toMatch(/is stuck: no answer to its play within 600 ms \(workTimeout\)\)$/)
        expect(pier.view().restarts.recent.map((r) => r.counted)).toEqual([true])
      }))
      expect(readLog(dir).map((r) => r.ev)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    }), 20_000)
})
