/**
 * Where the codec's encode runs on the hot paths, a value that cannot travel
 * exactly (SPEC §1) is a tagged error for that one call, and nothing is
 * sent: the serf host's writs (work, peek), the pool's requests, and the
 * worker SDKs' answers (Node and Python), in both codecs.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { make } from "../../src/pool/pool.ts"
import { start } from "../../src/serf/host.ts"
import { codecNames } from "../../src/wire/codec.ts"
import { nodeWorker, pythonWorker } from "../support/pools.ts"
import { testSerf } from "../support/serfs.ts"

describe("encode errors at the call sites", () => {
  for (const codec of codecNames) {
    it.live(`serf host: an event or a peek path that cannot travel fails that call; the serf goes on (${codec})`, () =>
      Effect.gen(function*() {
        const serf = yield* start({ ...testSerf(), codec })
        const work = yield* Effect.flip(serf.work({ n: NaN }))
        expect(work._tag).toBe("EventNotEncodable")
        expect(work.message).toContain("at ev.n: NaN is not a finite number")
        const peek = yield* Effect.flip(serf.peek(["\ud800"]))
        expect(peek._tag).toBe("EventNotEncodable")
        expect(peek.message).toContain("at path[0]: a string holds a lone surrogate (\\ud800)")
        // nothing reached the serf, and it is still serving
        yield* serf.work({ n: 2 })
        expect(yield* serf.peek(["total"])).toBe(2)
      }).pipe(Effect.scoped))

    for (const [name, worker] of [["node", nodeWorker], ["python", pythonWorker]] as const) {
      it.live(`pool: a payload that cannot travel is refused; an answer that cannot is err internal, the ${name} worker goes on (${codec})`, () =>
        Effect.gen(function*() {
          const pool = yield* make({ ...worker, workers: 1, codec })
          const sent = yield* Effect.flip(pool.submit({ op: "echo", value: new Map() }))
          expect(sent.message).toContain("a Map is not plain data")
          const pid = yield* pool.submit({ op: "pid" })
          // 1e308 + 1e308 is Infinity, which no JSON caller can be given
          const answer = yield* Effect.flip(pool.submit({ op: "add", a: 1e308, b: 1e308 }))
          expect(answer).toMatchObject({ _tag: "Application", code: "internal" })
          expect(answer.message).toMatch(/cannot be encoded: .*not (a )?finite number/)
          expect(yield* pool.submit({ op: "pid" })).toBe(pid)
        }).pipe(Effect.scoped))
    }
  }
})
