import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { open } from "../../src/pier/pier.ts"
import { isAlive } from "../../src/supervisor/group.ts"
import { processIdentity } from "../../src/supervisor/group.ts"
import { eventually } from "../support/procs.ts"
import { kvSerf, tempDir, testSerf } from "../support/serfs.ts"

const quiet = Logger.layer([])

const withPier = <A, E>(name: string, body: (dir: string) => Effect.Effect<A, E, any>) =>
  it.live(name, () => {
    const dir = tempDir("liege-pier-")
    return body(dir).pipe(
      Effect.provide(quiet),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    ) as Effect.Effect<A, E>
  })

const logged = (dir: string) => {
  const db = new DatabaseSync(path.join(dir, "pier.db"), { readOnly: true })
  try {
    return db.prepare("SELECT eve, mug, ev FROM events ORDER BY eve").all() as Array<{ eve: number; mug: number | null; ev: string }>
  } finally {
    db.close()
  }
}

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
        return pier.stats()
      }))
      expect(first.eve).toBe(53)
      const rows = logged(dir)
      expect(rows.map((r) => r.eve)).toEqual(Array.from({ length: 53 }, (_, i) => i + 1))
      expect(rows[0]!.mug).toBeNull()
      expect(rows[1]!.mug).not.toBeNull()
      expect(JSON.parse(rows[52]!.ev)).toEqual({ op: "crashed" })
      // no snapshot was taken: the next serf replays all 53 events
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...kvSerf, batchSize: 7 })
        expect(yield* pier.peek(["get", "n"])).toBe(50)
        expect(yield* pier.peek(["get", "crashes"])).toBe(1)
        expect(pier.stats().replay).toMatchObject({ done: 53, total: 53 })
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
        expect(pier.stats().replay).toMatchObject({ done: 1, total: 1 })
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
        yield* Effect.promise(() => eventually(() => pier.stats().events > 50))
        process.kill(pier.stats().serf!, "SIGKILL")
        const answers = yield* Fiber.join(load)
        expect(answers).toHaveLength(400)
        expect(answers.every((a) => a._tag === "Done")).toBe(true)
        expect(new Set(answers.map((a) => (a as { eve: number }).eve)).size).toBe(400)
        expect(pier.stats().restarts).toBe(1)
        expect(yield* pier.peek(["total"])).toBe((400 * 401) / 2)
      }))
      const rows = logged(dir)
      expect(rows.map((r) => r.eve)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1))
      const ns = rows.map((r) => JSON.parse(r.ev).n).sort((a, b) => a - b)
      expect(ns).toEqual(Array.from({ length: 400 }, (_, i) => i + 1))
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

  withPier("a serf that keeps dying makes the pier give up after maxRestarts", (dir) =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...testSerf({ TEST_SERF_DIE: "1" }), maxRestarts: 2, stopGrace: 100 })
        const waiting = yield* Effect.forkChild(Effect.flip(pier.poke({ n: 1 })))
        const fatal = yield* pier.fatal
        expect(fatal._tag).toBe("PierGaveUp")
        expect(pier.stats().restarts).toBe(3)
        expect((yield* Fiber.join(waiting))._tag).toBe("PierGaveUp")
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
