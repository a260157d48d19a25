/**
 * Serf reload at the library level (SPEC §8 `POST /v1/reload`): the serf's
 * code is upgraded without losing an event, or the reload fails saying why
 * and the old serf goes on.
 *
 * The serf is test/fixtures/reload-serf.ts, whose "deployed code" is a
 * file the test rewrites between the start and the reload.
 */
import { describe, expect } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ReloadFailed } from "../../src/errors.ts"
import { open, type Pier, type PokeAnswer } from "../../src/pier/pier.ts"
import { isAlive } from "../../src/supervisor/group.ts"
import { liveIn } from "../support/live.ts"
import { readLog } from "../support/log.ts"
import { captureLogs } from "../support/logs.ts"
import { fixture, node, until } from "../support/procs.ts"

const withPier = liveIn("liege-reload-")

/** The reload serf, its deployed code in `dir/code.json` (written now), its pier in `dir/pier`. */
const reloadSerf = (dir: string, code: object = { salt: 0 }) => {
  const file = path.join(dir, "code.json")
  fs.writeFileSync(file, JSON.stringify(code))
  return {
    dir: path.join(dir, "pier"),
    command: node,
    args: [fixture("reload-serf.ts")],
    env: { RELOAD_SERF_CODE: file },
    stopGrace: 500
  }
}

/** The code the next serf process starts with. */
const deploy = (dir: string, code: object) => fs.writeFileSync(path.join(dir, "code.json"), JSON.stringify(code))

const eveOf = (a: PokeAnswer) => {
  if (a._tag === "Bail") throw new Error("bail")
  return a.eve
}

/**
 * `callers` fibers poke `{n: 1}` one after another until `stop` says so:
 * every answer, in the order each caller got it, with when it came.
 */
const load = (pier: Pier, callers: number, stop: () => boolean) =>
  Effect.forEach(
    Array.from({ length: callers }, (_, i) => i),
    () =>
      Effect.gen(function*() {
        const got: Array<{ readonly eve: number; readonly at: number }> = []
        while (!stop()) {
          const a = yield* pier.poke({ n: 1 })
          got.push({ eve: eveOf(a), at: performance.now() })
        }
        return got
      }),
    { concurrency: "unbounded" }
  )

/** The events 1..n, each once. */
const consecutive = (eves: ReadonlyArray<number>) => {
  const sorted = [...eves].sort((a, b) => a - b)
  expect(sorted).toEqual(Array.from({ length: sorted.length }, (_, i) => i + 1))
}

describe("pier reload", () => {
  withPier("under load: no event refused or lost, consecutive events across the switch, state kept, generation 2", (dir) =>
    Effect.gen(function*() {
      const total = yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ ...reloadSerf(dir), maxInFlight: 8 })
        yield* until(() => pier.ready())
        const before = pier.view().pid!
        expect(yield* pier.peek(["generation"])).toBe("1")
        let stop = false
        const running = yield* Effect.forkChild(load(pier, 8, () => stop))
        yield* until(() => pier.view().logged >= 300)
        const t0 = performance.now()
        const reloaded = yield* pier.reload
        const t1 = performance.now()
        const atReload = pier.view().logged
        yield* until(() => pier.view().logged >= atReload + 300)
        stop = true
        const answers = yield* Fiber.join(running)
        // every caller's events in order, all of them consecutive across the switch
        for (const got of answers) for (let i = 1; i < got.length; i++) expect(got[i]!.eve).toBeGreaterThan(got[i - 1]!.eve)
        const all = answers.flat()
        consecutive(all.map((a) => a.eve))
        expect(reloaded.reloaded).toBe(1)
        expect(reloaded.generation).toBe(2)
        expect(reloaded.eve).toBeGreaterThanOrEqual(300)
        expect(all.some((a) => a.eve > reloaded.eve)).toBe(true)
        // a new process serves, the old one is gone
        const after = pier.view().pid!
        expect(after).not.toBe(before)
        expect(isAlive(before)).toBe(false)
        expect(yield* pier.peek(["pid"])).toBe(after)
        expect(yield* pier.peek(["generation"])).toBe("2")
        expect(yield* pier.peek(["total"])).toBe(all.length)
        expect(yield* pier.peek(["count"])).toBe(all.length)
        expect(pier.view()).toMatchObject({
          reload: { generation: 2, total: 1, failed: 0, running: null, last: { generation: 2, eve: reloaded.eve, error: null } },
          restarts: { total: 0 },
          eve: all.length
        })
        // the longest wait between two answers during the reload
        const during = all.map((a) => a.at).filter((at) => at >= t0 - 50 && at <= t1 + 50).sort((a, b) => a - b)
        let gap = 0
        for (let i = 1; i < during.length; i++) gap = Math.max(gap, during[i]! - during[i - 1]!)
        console.log(
          `reload under load: ${all.length} events, reload took ${(t1 - t0).toFixed(0)} ms, ` +
            `longest gap between answers ${gap.toFixed(1)} ms`
        )
        return all.length
      }))
      // the log holds every event once, in order
      const rows = readLog(path.join(dir, "pier"))
      expect(rows.map((r) => r.eve)).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    }))

  withPier("a new serf whose mug differs is killed; the old one goes on", (dir) =>
    Effect.gen(function*() {
      const logs = captureLogs()
      return yield* Effect.gen(function*() {
        const pier = yield* open(reloadSerf(dir))
        for (let i = 0; i < 5; i++) yield* pier.poke({ n: 2 })
        const before = pier.view().pid!
        deploy(dir, { salt: 7 })
        const error = yield* Effect.flip(pier.reload)
        expect(error).toBeInstanceOf(ReloadFailed)
        expect(error.reason).toMatch(/^the new serf's mug at event 5 is \d+, the log's is \d+$/)
        // the old serf serves on, events consecutive
        expect(pier.view().pid).toBe(before)
        expect(eveOf(yield* pier.poke({ n: 1 }))).toBe(6)
        expect(yield* pier.peek(["generation"])).toBe("1")
        expect(yield* pier.peek(["total"])).toBe(11)
        expect(pier.view().reload).toMatchObject({
          generation: 1,
          total: 1,
          failed: 1,
          running: null,
          last: { generation: 2, eve: null, error: error.reason }
        })
        expect(pier.view().errors[0]).toMatchObject({ tag: "ReloadFailed" })
        // the new serf was killed, and said why
        const killed = logs.lines.find((l) => l.message.startsWith("reload: killing the new serf"))
        expect(killed?.message).toContain("mug at event 5")
        const pid = Number(/serf (\d+)/.exec(killed!.message)![1])
        expect(isAlive(pid)).toBe(false)
        // the code fixed: the next reload takes the next generation
        deploy(dir, { salt: 0 })
        const ok = yield* pier.reload
        expect(ok).toEqual({ reloaded: 1, eve: 6, generation: 3 })
        expect(yield* pier.peek(["generation"])).toBe("3")
        expect(eveOf(yield* pier.poke({ n: 1 }))).toBe(7)
      }).pipe(Effect.provide(logs.layer))
    }))

  withPier("a new serf whose replay diverges from the log is killed, at the first batch that differs", (dir) =>
    Effect.gen(function*() {
      const pier = yield* open({ ...reloadSerf(dir), batchSize: 4 })
      for (let i = 0; i < 10; i++) yield* pier.poke({ n: 1 })
      // this version starts from event 1 and counts every event twice
      deploy(dir, { nosnap: true, double: true })
      const error = yield* Effect.flip(pier.reload)
      expect(error.reason).toMatch(/^the new serf's mug at event 4 is \d+, the log's is \d+$/)
      expect(eveOf(yield* pier.poke({ n: 1 }))).toBe(11)
      expect(yield* pier.peek(["total"])).toBe(11)
    }))

  withPier("a new serf that fails its boot is refused; the old one goes on", (dir) =>
    Effect.gen(function*() {
      const pier = yield* open(reloadSerf(dir))
      yield* pier.poke({ n: 1 })
      const before = pier.view().pid!
      deploy(dir, { boot: "exit" })
      const error = yield* Effect.flip(pier.reload)
      expect(error.reason).toMatch(/^the new serf did not boot: serf \d+ exited before it was ripe \(code 1\)$/)
      expect(pier.view().pid).toBe(before)
      expect(eveOf(yield* pier.poke({ n: 1 }))).toBe(2)
      expect(pier.view().restarts.total).toBe(0)
    }))

  withPier("a new serf that never becomes ripe is killed after bootTimeout", (dir) =>
    Effect.gen(function*() {
      const pier = yield* open({ ...reloadSerf(dir), bootTimeout: 300, stopGrace: 100 })
      yield* pier.poke({ n: 1 })
      deploy(dir, { boot: "hang" })
      const error = yield* Effect.flip(pier.reload)
      expect(error.reason).toMatch(/^the new serf did not boot: serf \d+ sent no ripe within 300 ms \(bootTimeout\)$/)
      expect(eveOf(yield* pier.poke({ n: 1 }))).toBe(2)
    }))

  withPier("the serving serf dying during a reload fails it at once; the pier restarts as after any death", (dir) =>
    Effect.gen(function*() {
      const logs = captureLogs()
      return yield* Effect.gen(function*() {
        const pier = yield* open({ ...reloadSerf(dir), bootTimeout: 20_000, stopGrace: 100 })
        yield* pier.poke({ n: 1 })
        const old = pier.view().pid!
        deploy(dir, { boot: "hang" })
        const reload = yield* Effect.forkChild(Effect.flip(pier.reload))
        // the new process has read its code: the next one will read the good code again
        yield* until(() => logs.lines.some((l) => l.message.includes("never becomes ripe")))
        deploy(dir, { salt: 0 })
        const t0 = performance.now()
        process.kill(old, "SIGKILL")
        const error = yield* Fiber.join(reload)
        expect(error.reason).toMatch(new RegExp(`^the serving serf ${old} ended during the reload: `))
        expect(performance.now() - t0).toBeLessThan(5_000)
        expect(eveOf(yield* pier.poke({ n: 1 }))).toBe(2)
        expect(pier.view().restarts.total).toBe(1)
        expect(yield* pier.peek(["generation"])).toBe("1")
      }).pipe(Effect.provide(logs.layer))
    }))

  withPier("a shutdown during a reload fails it (liege is stopping), kills the new serf and stops the old one", (dir) =>
    Effect.gen(function*() {
      const logs = captureLogs()
      return yield* Effect.gen(function*() {
        const pier = yield* open({ ...reloadSerf(dir), bootTimeout: 20_000, stopGrace: 100 })
        yield* pier.poke({ n: 1 })
        const old = pier.view().pid!
        deploy(dir, { boot: "hang" })
        const reload = yield* Effect.forkChild(Effect.flip(pier.reload))
        yield* until(() => logs.lines.some((l) => l.message.includes("never becomes ripe")))
        const t0 = performance.now()
        yield* pier.shutdown(1_000)
        const error = yield* Fiber.join(reload)
        expect(error.reason).toBe("liege is stopping")
        expect(performance.now() - t0).toBeLessThan(5_000)
        expect(isAlive(old)).toBe(false)
        const killed = logs.lines.find((l) => l.message.startsWith("reload failed"))
        expect(killed?.message).toContain("liege is stopping")
      }).pipe(Effect.provide(logs.layer))
    }))

  withPier("reloads asked while one runs join it; a reload while stopping fails", (dir) =>
    Effect.gen(function*() {
      const pier = yield* open(reloadSerf(dir))
      yield* pier.poke({ n: 1 })
      const [a, b, c] = yield* Effect.all([pier.reload, pier.reload, pier.reload], { concurrency: "unbounded" })
      expect(a).toEqual({ reloaded: 1, eve: 1, generation: 2 })
      expect(b).toEqual(a)
      expect(c).toEqual(a)
      expect(pier.view().reload).toMatchObject({ total: 1, failed: 0 })
      // the next one is a new reload
      expect((yield* pier.reload).generation).toBe(3)
      yield* pier.shutdown(1_000)
      const error = yield* Effect.flip(pier.reload)
      expect(error.reason).toBe("liege is stopping")
    }))

  withPier("a reload asked while the serf restarts runs once the next one is ripe", (dir) =>
    Effect.gen(function*() {
      const pier = yield* open(reloadSerf(dir))
      yield* pier.poke({ n: 1 })
      process.kill(pier.view().pid!, "SIGKILL")
      yield* until(() => !pier.ready())
      const reloaded = yield* pier.reload
      expect(reloaded.generation).toBe(2)
      expect(yield* pier.peek(["generation"])).toBe("2")
      expect(eveOf(yield* pier.poke({ n: 1 }))).toBe(2)
      expect(pier.view().restarts.total).toBe(1)
    }))
})
