/**
 * Poison events (SPEC §3): an event the serf dies on, twice, the second time
 * alone, is refused (`SerfPoisoned`; 422 Poison over HTTP) and never logged;
 * the serf is restarted and goes on with the rest in order, and liege does
 * not give up — unless every event kills it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { open } from "../../src/pier/pier.ts"
import { start } from "../../src/serf/host.ts"
import { healthy, post, request, serve } from "../support/http.ts"
import { readLog } from "../support/log.ts"
import { captureLogs } from "../support/logs.ts"
import { fixture, node, root, until } from "../support/procs.ts"
import { failureOf, inTemp, pokeAll, tempDir } from "../support/serfs.ts"
import { liveIn } from "../support/live.ts"

const poisonSerf = { command: node, args: [fixture("poison-serf.ts")] }
const pythonKv = { command: "python3", args: [path.join(root, "examples/python/kv_serf.py")] }

const withPier = liveIn("liege-poison-")


/** A fresh serf (no snapshot) replaying the whole log: where it ends. */
const replayFromScratch = (dir: string, serf: { command: string; args: ReadonlyArray<string> }) =>
  Effect.scoped(Effect.gen(function*() {
    const rows = readLog(dir)
    const s = yield* start(serf)
    return yield* s.replay(Stream.fromIterable(rows.map((r) => ({ wen: r.wen, ev: r.ev }))))
  }))

/** A JSON array nested `depth` deep (about 2 bytes a level). */
const nested = (depth: number): unknown => {
  let v: unknown = []
  for (let i = 1; i < depth; i++) v = [v]
  return v
}

describe("poison events", () => {
  withPier("an event the serf dies on is refused as poison; the others are answered and logged in order", (dir) =>
    Effect.gen(function*() {
      const events = [
        ...Array.from({ length: 5 }, (_, i) => ({ n: i + 1 })),
        { poison: true },
        ...Array.from({ length: 5 }, (_, i) => ({ n: i + 6 }))
      ]
      const answers = yield* Effect.scoped(Effect.gen(function*() {
        // no restart may count: one that did would make the pier give up
        const pier = yield* open({ dir, ...poisonSerf, maxInFlight: 4, maxRestarts: 0 })
        const answers = yield* pokeAll(pier, events)
        const status = pier.view()
        expect(status.poisoned).toBe(1)
        // (the serf may die owing the answer before the poison's too: that one survives alone first)
        expect(status.restarts.recent.every((r) => !r.counted)).toBe(true)
        expect(status.restarts.recent.filter((r) => r.poison)).toHaveLength(1)
        expect(status.restarts.recent[0]!.poison).toBe(true) // newest first
        // the pier goes on
        expect(yield* pier.poke({ n: 100 })).toMatchObject({ _tag: "Done", eve: 11 })
        expect(yield* pier.peek(["sum"])).toBe(155)
        return answers
      }))
      const poison = failureOf(answers[5]!)
      expect(poison?._tag).toBe("SerfPoisoned")
      expect(poison?.message).toBe(
        "the serf died on this event twice, the second time with it alone (last exit: code 70); it was refused and not logged"
      )
      expect(poison?.message).not.toMatch(/event \d/)
      const done = answers.filter((_, i) => i !== 5).map((exit) => Exit.isSuccess(exit) ? exit.value : exit)
      // answered in the order they were poked, the poison's neighbours included
      expect(done).toEqual(Array.from({ length: 10 }, (_, i) => expect.objectContaining({ _tag: "Done", eve: i + 1 })))
      const rows = readLog(dir)
      expect(rows.map((r) => r.ev)).toEqual([...events.filter((e) => !("poison" in e)), { n: 100 }])
      expect(rows.map((r) => r.eve)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1))
      // a fresh serf replaying the log reaches the live serf's mug
      const replay = yield* replayFromScratch(dir, poisonSerf)
      expect(replay).toEqual({ _tag: "Done", eve: 11, mug: rows.at(-1)!.mug })
    }))

  withPier("the Python kv serf dies on a 3 kB event nested 1,500 deep: poison, and the pier goes on", (dir) =>
    Effect.gen(function*() {
      const deep = { op: "put", key: "deep", value: nested(1500) }
      expect(JSON.stringify(deep).length).toBeLessThan(3200)
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...pythonKv, maxRestarts: 0 })
        const [before, poison, after] = yield* pokeAll(pier, [
          { op: "put", key: "a", value: 1 },
          deep,
          { op: "put", key: "b", value: 2 }
        ])
        expect(Exit.isSuccess(before!) && before.value).toMatchObject({ _tag: "Done", eve: 1 })
        expect(failureOf(poison!)?._tag).toBe("SerfPoisoned")
        expect(failureOf(poison!)?.message).toContain("(last exit: code 70)")
        expect(Exit.isSuccess(after!) && after.value).toMatchObject({ _tag: "Done", eve: 2 })
        expect(yield* pier.peek(["keys"])).toEqual(["a", "b"])
        expect(pier.view()).toMatchObject({ state: "running", isolating: false })
      }))
      expect(readLog(dir).map((r) => r.ev)).toEqual([{ op: "put", key: "a", value: 1 }, { op: "put", key: "b", value: 2 }])
    }))

  withPier("a serf that dies on every event is broken, not poisoned: a second poison in a row counts", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...poisonSerf, maxRestarts: 1 })
        const answers = yield* pokeAll(pier, [{ poison: true }, { poison: true }, { poison: true }])
        expect(answers.map((a) => failureOf(a)?._tag)).toEqual(["SerfPoisoned", "SerfPoisoned", "SerfPoisoned"])
        // poison 1 is free, 2 counts (1 of 1 allowed), 3 counts once too many
        const fatal = yield* pier.fatal
        expect(fatal._tag).toBe("PierGaveUp")
        expect(pier.view().restarts.recent.filter((r) => r.poison).map((r) => r.counted).reverse()).toEqual([false, true, true])
        expect((yield* Effect.flip(pier.poke({ n: 1 })))._tag).toBe("PierGaveUp")
      }))
      expect(readLog(dir)).toEqual([])
    }))

  withPier("an event done between two poison events: neither counts", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...poisonSerf, maxRestarts: 0 })
        const answers = yield* pokeAll(pier, [{ poison: true }, { n: 1 }, { poison: true }, { n: 2 }])
        expect(answers.map((a) => failureOf(a)?._tag ?? (Exit.isSuccess(a) && a.value._tag))).toEqual([
          "SerfPoisoned",
          "Done",
          "SerfPoisoned",
          "Done"
        ])
        expect(pier.view().restarts.recent.every((r) => !r.counted)).toBe(true)
        expect(yield* pier.peek(["sum"])).toBe(3)
      }))
    }))

  it.live("a serf that survives the event alone answers it; the others follow in order through the window", () => {
    const logs = captureLogs()
    const dir = tempDir("liege-poison-")
    const sleeping = () => logs.lines.filter((l) => l.message === "stderr: event sleeping").length
    return Effect.gen(function*() {
      const pier = yield* open({ dir, command: node, args: [fixture("test-serf.ts")], maxInFlight: 4, maxRestarts: 0 })
      const load = yield* Effect.forkChild(pokeAll(pier, [{ op: "sleep", ms: 1500, n: 1 }, { n: 2 }, { n: 3 }]))
      // the first serf works on the first event, with the other two in flight: it is killed
      yield* until(() => sleeping() === 1)
      expect(pier.view().window.inFlight).toBe(3)
      process.kill(pier.view().pid!, "SIGKILL")
      // the next serf gets the oldest alone (it is sleeping on it now): the others wait
      yield* until(() => sleeping() === 2)
      const status = pier.view()
      expect(status).toMatchObject({ state: "running", isolating: true })
      expect(status.window).toEqual({ inFlight: 1, max: 4 })
      expect(status.pending).toBe(3)
      const answers = (yield* Fiber.join(load)).map((exit) => Exit.isSuccess(exit) ? exit.value : exit)
      expect(answers).toEqual([1, 2, 3].map((eve) => expect.objectContaining({ _tag: "Done", eve })))
      expect(pier.view().restarts.recent).toEqual([expect.objectContaining({ counted: false, poison: false })])
      expect(pier.view().poisoned).toBe(0)
      expect(yield* pier.peek(["total"])).toBe(6)
    }).pipe(
      Effect.scoped,
      Effect.provide(logs.layer),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    )
  })

  it("liege serf answers a poison event 422 Poison, goes on, and does not give up", async () => {
    await inTemp("liege-poison-", async (dir) => {
      const s = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", "--max-restarts", "0", "--", ...[
        poisonSerf.command,
        ...poisonSerf.args
      ]])
      await healthy(s.url)
      expect((await post(`${s.url}/v1/events`, { n: 1 })).body).toMatchObject({ eve: 1, effects: [{ sum: 1 }] })
      const poison = await post(`${s.url}/v1/events`, { poison: true })
      expect(poison.status).toBe(422)
      expect(poison.body).toEqual({ error: { tag: "Poison", message: expect.stringContaining("alone") } })
      // a serf's refusal is a Bail; liege's SDK puts the error's message in it, not its stack
      const bail = await post(`${s.url}/v1/events`, { n: "two" })
      expect(bail.status).toBe(422)
      expect(bail.body.error).toMatchObject({ tag: "Bail", goofs: [{ mote: "TypeError", tang: ["expected {n: number}"] }] })
      expect((await post(`${s.url}/v1/events`, { n: 2 })).body).toMatchObject({ eve: 2, effects: [{ sum: 3 }] })
      expect((await request("GET", `${s.url}/healthz`)).status).toBe(200)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
      expect(readLog(dir).map((r) => r.ev)).toEqual([{ n: 1 }, { n: 2 }])
    })
  })
})
