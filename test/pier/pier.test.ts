import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Scope } from "effect"
import { vi } from "vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { open, type Pier } from "../../src/pier/pier.ts"
import { isAlive } from "../../src/supervisor/group.ts"
import { processIdentity } from "../../src/supervisor/group.ts"
import { captureLogs } from "../support/logs.ts"
import { eventually, fixture, node, until } from "../support/procs.ts"
import { kvSerf, tempDir, testSerf } from "../support/serfs.ts"
import { liveIn } from "../support/live.ts"
import { readLog } from "../support/log.ts"

const poisonSerf = { command: node, args: [fixture("poison-serf.ts")] }

const withPier = liveIn("liege-pier-")


describe("pier", () => {
  withPier("boots a fresh pier, answers once durable, and comes back from its log", (dir) =>
    Effect.gen(function*() {
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({
          dir,
          ...kvSerf,
          boot: [{ wen: 1, ev: { op: "put", key: "booted", value: true } }, { wen: 2, ev: { op: "put", key: "n", value: 0 } }]
        })
        const answers = yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), () =>
          pier.poke({ op: "incr", key: "n" }), { concurrency: 10 })
        expect(answers.every((a) => a._tag === "Done")).toBe(true)
        const bail = yield* pier.poke({ op: "what" })
        expect(bail._tag).toBe("Bail")
        const swap = yield* pier.poke({ op: "crash" })
        expect(swap).toMatchObject({ _tag: "Swap", eve: 53, ev: { op: "crashed" } })
        expect(yield* pier.peek(["get", "n"])).toBe(50)
        return pier.view()
      }))
      expect(first.eve).toBe(53)
      const rows = readLog(dir)
      expect(rows.map((r) => r.eve)).toEqual(Array.from({ length: 53 }, (_, i) => i + 1))
      expect(rows[0]!.mug).toBeNull()
      expect(rows[1]!.mug).not.toBeNull()
      expect(rows[52]!.ev).toEqual({ op: "crashed" })
      // no snapshot was taken: the next serf replays all 53 events
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...kvSerf, batchSize: 7 })
        expect(yield* pier.peek(["get", "n"])).toBe(50)
        expect(yield* pier.peek(["get", "crashes"])).toBe(1)
        expect(pier.counters.replay()).toMatchObject({ done: 53, total: 53 })
      }))
    }))

  withPier("a snapshot is never ahead of the log, and a restart replays only what follows it", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...kvSerf })
        for (let i = 0; i < 5; i++) yield* pier.poke({ op: "put", key: `k${i}`, value: i })
        expect(yield* pier.snapshot).toBe(5)
        yield* pier.poke({ op: "put", key: "after", value: "snapshot" })
      }))
      const snap = JSON.parse(fs.readFileSync(path.join(dir, "kv-snapshot.json"), "utf8"))
      expect(snap.eve).toBe(5)
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...kvSerf })
        expect(yield* pier.peek(["get", "after"])).toBe("snapshot")
        expect(pier.counters.replay()).toMatchObject({ done: 1, total: 1 })
      }))
    }))

  withPier("a serf killed under load is restarted; every event is answered once and logged once", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf(), maxInFlight: 16 })
        const load = yield* Effect.forkChild(Effect.forEach(
          Array.from({ length: 400 }, (_, i) => i + 1),
          (n) => pier.poke({ n }),
          { concurrency: 32 }
        ))
        yield* Effect.promise(() => eventually(() => pier.view().logged > 50))
        process.kill(pier.view().pid!, "SIGKILL")
        const answers = yield* Fiber.join(load)
        expect(answers).toHaveLength(400)
        expect(answers.every((a) => a._tag === "Done")).toBe(true)
        expect(new Set(answers.map((a) => (a as { eve: number }).eve)).size).toBe(400)
        expect(pier.view().restarts.total).toBe(1)
        expect(yield* pier.peek(["total"])).toBe((400 * 401) / 2)
      }))
      const rows = readLog(dir)
      expect(rows.map((r) => r.eve)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1))
      const ns = rows.map((r) => (r.ev as { n: number }).n).sort((a, b) => a - b)
      expect(ns).toEqual(Array.from({ length: 400 }, (_, i) => i + 1))
    }))

  withPier("Pier.call: one answer through the callback, the event's JSON text logged as given; a closed pier refuses at once", (dir) =>
    Effect.gen(function*() {
      type Told = Parameters<Parameters<Pier["call"]>[1]>[0]
      const call = (pier: Pier, ev: unknown, json?: string) =>
        Effect.callback<{ readonly told: Told; readonly times: () => number }>((resume) => {
          let times = 0
          const started = pier.call(ev, (told) => {
            times++
            resume(Effect.succeed({ told, times: () => times }))
          }, json === undefined ? undefined : { json })
          if (typeof started !== "function") resume(Effect.succeed({ told: started, times: () => times }))
        })
      const closed = yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...kvSerf })
        yield* until(() => pier.ready())
        const done = yield* call(pier, { op: "put", key: "a", value: 1 }, `{"op": "put", "key": "a", "value": 1.0}`)
        expect(done.told).toMatchObject({ _tag: "Done", eve: 1 })
        const bail = yield* call(pier, { op: "what" })
        expect(bail.told._tag).toBe("Bail")
        expect(yield* pier.peek(["get", "a"])).toBe(1)
        expect([done.times(), bail.times()]).toEqual([1, 1])
        yield* pier.shutdown(1000)
        return pier
      }))
      const refused = closed.call({ op: "put", key: "b", value: 2 }, () => expect.unreachable("no answer after the close"))
      expect(refused).toMatchObject({ _tag: "ShuttingDown" })
      // as the caller wrote it, not written again from its value
      const db = new DatabaseSync(path.join(dir, "pier.db"), { readOnly: true })
      try {
        expect(db.prepare("SELECT ev FROM events WHERE eve = 1").get()).toEqual({ ev: `{"op": "put", "key": "a", "value": 1.0}` })
      } finally {
        db.close()
      }
    }))

  withPier("a serf with another identity is refused", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf() })
        yield* pier.poke({ n: 1 })
      }))
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf({ TEST_SERF_HON: "2" }) })
        const fatal = yield* pier.fatal
        expect(fatal._tag).toBe("PierMismatch")
        expect(fatal.message).toContain("hon")
        expect((yield* Effect.flip(pier.poke({ n: 1 })))._tag).toBe("PierMismatch")
      }))
    }))

  withPier("a snapshot ahead of the log is refused", (dir) =>
    Effect.gen(function*() {
      fs.writeFileSync(path.join(dir, "test-serf.json"), JSON.stringify({ eve: 100, total: 7 }))
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf() })
        const fatal = yield* pier.fatal
        expect(fatal._tag).toBe("PierMismatch")
        expect(fatal.message).toContain("ahead of the log")
      }))
    }))

  withPier("a log whose mugs the serf does not reproduce stops with ReplayDiverged", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf() })
        for (let n = 1; n <= 3; n++) yield* pier.poke({ n })
      }))
      const db = new DatabaseSync(path.join(dir, "pier.db"))
      db.exec("UPDATE events SET mug = 4242 WHERE eve = 3")
      db.close()
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf() })
        const fatal = yield* pier.fatal
        expect(fatal._tag).toBe("ReplayDiverged")
        expect(fatal.message).toMatch(/^event 3: logged mug 4242, serf mug \d+$/)
      }))
    }))

  withPier("a serf that keeps dying with no event to blame makes the pier give up after maxRestarts", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        // it dies soon after ripe, idle: every death counts
        const pier = yield* open({ dir, ...testSerf({ TEST_SERF_DIE: "1" }), maxRestarts: 2, stopGrace: 100 })
        const fatal = yield* pier.fatal
        expect(fatal._tag).toBe("PierGaveUp")
        expect(fatal.message).toMatch(/^the serf failed 3 times within 60000 ms; giving up \(last: serf \d+ died \(code 3\)/)
        expect(pier.view().restarts.total).toBe(3)
        expect(pier.view().restarts.recent.map((r) => r.counted)).toEqual([true, true, true])
        expect(pier.view()).toMatchObject({ state: "stopped", failed: fatal.message })
        expect((yield* Effect.flip(pier.poke({ n: 1 })))._tag).toBe("PierGaveUp")
      }))
    }))

  withPier("a serf's own goofs pass through unchanged", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf() })
        expect(yield* pier.poke({ op: "bail" })).toEqual({ _tag: "Bail", goofs: [{ mote: "bail", tang: ["on purpose"] }] })
      }))
    }))

  it.live("logs go to the logger the pier runs with: slog lines, restart warnings; nothing to stdout", () => {
    const logs = captureLogs()
    const dir = tempDir("liege-pier-")
    const stdout = vi.spyOn(process.stdout, "write")
    const consoled = (["log", "info", "warn", "error", "debug"] as const).map((m) => vi.spyOn(console, m))
    return Effect.gen(function*() {
      const pier = yield* open({ dir, ...poisonSerf })
      yield* pier.poke({ n: 1 })
      const first = pier.view().pid!
      process.kill(first, "SIGKILL")
      yield* until(() => pier.ready() && pier.view().pid !== first)
      yield* pier.poke({ n: 2 })
      // (a serf's log lines reach the logger on their own fiber, maybe after the answer)
      yield* until(() => logs.lines.some((l) => l.message === "event 2: +2"))
      const slogs = logs.lines.filter((l) => /^event \d: \+\d$/.test(l.message))
      expect(slogs.map((l) => [l.level, l.message])).toEqual([["INFO", "event 1: +1"], ["INFO", "event 2: +2"]])
      expect(slogs[0]!.annotations).toMatchObject({ worker: 1, pid: first })
      expect(slogs[1]!.annotations).toMatchObject({ worker: 2, pid: pier.view().pid })
      const restart = logs.lines.find((l) => l.message.startsWith("serf generation 1 ended"))
      expect(restart).toMatchObject({ level: "WARN" })
      expect(restart!.message).toContain("signal SIGKILL")
      expect(stdout).not.toHaveBeenCalled()
      for (const spy of consoled) expect(spy).not.toHaveBeenCalled()
    }).pipe(
      Effect.scoped,
      Effect.provide(logs.layer),
      Effect.ensuring(Effect.sync(() => {
        stdout.mockRestore()
        for (const spy of consoled) spy.mockRestore()
        fs.rmSync(dir, { recursive: true, force: true })
      }))
    )
  })

  it.live("a control request under way when the pier closes ends with ShuttingDown; no dead serf is handed out", () => {
    const logs = captureLogs()
    const dir = tempDir("liege-pier-")
    return Effect.scoped(Effect.gen(function*() {
      // closed by the test, or at its end if it fails first
      const scope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
      const pier = yield* open({ dir, ...testSerf(), stopGrace: 100 }).pipe(Scope.provide(scope))
      const peek = yield* Effect.forkChild(Effect.flip(pier.peek(["sleep", "30000"])))
      // the serf says so once it has the peek: the flow holds the serf lock
      yield* until(() => logs.lines.some((l) => l.message === "stderr: peek sleeping"))
      yield* Scope.close(scope, Exit.void)
      expect((yield* Fiber.join(peek))._tag).toBe("ShuttingDown")
      expect(pier.ready()).toBe(false)
    })).pipe(
      Effect.provide(logs.layer),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    )
  })

  withPier("a control request that cannot be encoded fails its caller once: not retried on serf after serf, the serf goes on", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf(), maxRestarts: 2 })
        yield* pier.poke({ n: 1 })
        // a path the codec cannot write: refused before the serf's lock is taken
        const exit = yield* Effect.exit(pier.peek([10n as unknown as string]))
        expect(Exit.isFailure(exit) && !Cause.hasDies(exit.cause)).toBe(true)
        expect(yield* pier.peek(["total"])).toBe(1)
        expect(pier.view().restarts.total).toBe(0)
      }))
    }))

  withPier("status: a cheap snapshot of state, log, window, restarts and snapshot", (dir) =>
    Effect.gen(function*() {
      const mug = yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf(), maxInFlight: 3 })
        expect(pier.view().state).toBe("booting")
        let last = yield* pier.poke({ n: 1 })
        expect(pier.view()).toMatchObject({
          state: "running",
          isolating: false,
          eve: 1,
          mug: (last as { mug: number }).mug,
          pid: expect.any(Number),
          window: { inFlight: 0, max: 3 },
          pending: 0,
          logged: 1,
          restarts: { total: 0, byReason: {}, recent: [] },
          poisoned: 0,
          lastSnapshotEve: null
        })
        for (let n = 2; n <= 3; n++) last = yield* pier.poke({ n })
        expect(yield* pier.snapshot).toBe(3)
        expect(pier.view()).toMatchObject({ eve: 3, mug: (last as { mug: number }).mug, lastSnapshotEve: 3 })
        for (let n = 4; n <= 6; n++) last = yield* pier.poke({ n })
        process.kill(pier.view().pid!, "SIGKILL")
        yield* until(() => pier.view().restarts.total === 1 && pier.ready())
        const { restarts } = pier.view()
        expect(restarts.byReason).toEqual({ died: 1 })
        expect(restarts.recent).toEqual([
          { at: expect.any(Number), kind: "died", reason: expect.stringContaining("SIGKILL"), counted: true, poison: false, code: null, signal: "SIGKILL" }
        ])
        return (last as { mug: number }).mug
      }))
      // the next start replays what follows the snapshot, one batch at a time
      const states: Array<unknown> = []
      let pier: Pier | undefined = undefined
      yield* Effect.scoped(Effect.gen(function*() {
        pier = yield* open({ dir, ...testSerf(), batchSize: 1 }, { onReplay: () => states.push(pier!.view().replay) })
        yield* until(() => pier!.ready())
        expect(pier.view()).toMatchObject({ eve: 6, mug, lastSnapshotEve: 3 })
      }))
      expect(states).toEqual([0, 1, 2, 3].map((done) => ({ done, total: 3 })))
    }))

  withPier("status: between serfs, restarting and when the next one is tried", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        // never ripe: every start fails, and the backoff grows (50, 100, 200, … ms)
        const pier = yield* open({ dir, ...testSerf({ TEST_SERF_NORIPE: "1" }), bootTimeout: 100, stopGrace: 100 })
        yield* until(() => pier.view().restarts.total >= 4 && pier.view().state === "restarting")
        expect(pier.view().nextTryAt).toBeGreaterThan(Date.now())
        expect(pier.view().restarts.recent[0]).toMatchObject({ kind: "boot", reason: expect.stringContaining("no ripe"), counted: true })
      }))
    }))

  withPier("a second pier on the same folder is refused: PierLocked", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        yield* open({ dir, ...testSerf() })
        const e = yield* Effect.flip(open({ dir, ...testSerf() }))
        expect(e._tag).toBe("PierLocked")
      }))
    }))

  withPier("a serf left behind by a killed liege is reaped before the next one starts", (dir) =>
    Effect.gen(function*() {
      const leftover = spawn("sh", ["-c", "trap '' TERM; exec sleep 1000"], { detached: true, stdio: "ignore" })
      // it ignores SIGTERM: if the test fails before the pier reaps it, it goes here
      yield* Effect.addFinalizer(() => Effect.sync(() => {
        try {
          process.kill(leftover.pid!, "SIGKILL")
        } catch {}
      }))
      yield* Effect.promise(() => eventually(() => processIdentity(leftover.pid!) !== undefined))
      fs.mkdirSync(dir, { recursive: true })
      yield* Effect.scoped(Effect.gen(function*() {
        yield* open({ dir, ...testSerf() })
      }))
      const db = new DatabaseSync(path.join(dir, "pier.db"))
      db.prepare("INSERT INTO meta (key, value) VALUES ('serf', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .run(processIdentity(leftover.pid!)!)
      db.close()
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf() })
        expect(isAlive(leftover.pid!)).toBe(false)
        yield* pier.poke({ n: 1 })
      }))
      yield* Effect.promise(() => new Promise((r) => leftover.exitCode !== null || leftover.signalCode !== null ? r(undefined) : leftover.once("exit", r)))
    }))
})
