/**
 * The pier on its storage interface (SPEC §3, §9): the same behaviour on the
 * embedded SQLite log and on a serf's log in PostgreSQL (a real
 * PostgreSQL 15, test/support/postgres.ts), then what only a shared,
 * fenced, asynchronous log has: commits in flight, and another writer.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Logger, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { openPier } from "../../src/cluster/pier-log.ts"
import { LEFTOVER_FILE } from "../../src/pier/leftover.ts"
import { open, type Pier, type PierHooks, type PierOptions } from "../../src/pier/pier.ts"
import { isAlive, processIdentity } from "../../src/supervisor/group.ts"
import { captureLogs } from "../support/logs.ts"
import { eventually, fixture, node, until } from "../support/procs.ts"
import { usePostgres } from "../support/postgres.ts"
import { kvSerf, tempDir, testSerf } from "../support/serfs.ts"
import { withDatabase } from "./db.ts"

const pg = usePostgres()
const quiet = Logger.layer([])
const poisonSerf = { command: node, args: [fixture("poison-serf.ts")] }

type Options = Omit<PierOptions, "dir">
interface Row {
  readonly eve: number
  readonly mug: number | null
  readonly ev: string
}

/** One pier's storage, in one folder. */
interface Store {
  readonly dir: string
  readonly open: (options: Options, hooks?: PierHooks) => Effect.Effect<Pier, unknown, Scope.Scope | SqlClient>
  /** The log's rows, read beside the pier (only while no pier has it, for SQLite). */
  readonly logged: Effect.Effect<ReadonlyArray<Row>, unknown, SqlClient>
  /** Records `identity` as the serf process a killed liege left running. */
  readonly leaveBehind: (identity: string) => Effect.Effect<void, unknown, SqlClient>
}

const SERF = "serf-1"

const sqliteStore = (dir: string): Store => ({
  dir,
  open: (options, hooks) => open({ dir, ...options }, hooks),
  logged: Effect.sync(() => {
    const db = new DatabaseSync(path.join(dir, "pier.db"), { readOnly: true })
    try {
      return db.prepare("SELECT eve, mug, ev FROM events ORDER BY eve").all() as unknown as Array<Row>
    } finally {
      db.close()
    }
  }),
  leaveBehind: (identity) =>
    Effect.sync(() => {
      const db = new DatabaseSync(path.join(dir, "pier.db"))
      db.prepare("INSERT INTO meta (key, value) VALUES ('serf', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(identity)
      db.close()
    })
})

const postgresStore = (dir: string): Store => ({
  dir,
  open: (options, hooks) => openPier(SERF, { dir, ...options }, hooks),
  logged: SqlClient.use((sql) =>
    sql.unsafe<Row>("SELECT eve::float8 AS eve, mug::float8 AS mug, ev FROM serf_events WHERE serf = $1 ORDER BY eve", [SERF])
  ),
  leaveBehind: (identity) => Effect.sync(() => fs.writeFileSync(path.join(dir, LEFTOVER_FILE), `${identity}\n`))
})

const storages = [
  { name: "SQLite", store: sqliteStore },
  { name: "PostgreSQL", store: postgresStore }
] as const

/** A test with a fresh folder and a fresh database. */
const live = <A, E>(name: string, body: (dir: string) => Effect.Effect<A, E, any>, timeout?: number) =>
  it.live(name, () => {
    const dir = tempDir("liege-store-")
    return withDatabase(pg.createDb, () => body(dir)).pipe(
      Effect.provide(quiet),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    ) as Effect.Effect<A, unknown>
  }, timeout)

/**
 * Another transaction holds the serf's epoch row, so every append waits (for
 * the scope, or until the effect returned is run).
 */
const holdAppends = Effect.gen(function*() {
  const sql = yield* SqlClient
  const locked = yield* Deferred.make<void>()
  const release = yield* Deferred.make<void>()
  const holder = yield* Effect.forkScoped(sql.withTransaction(Effect.gen(function*() {
    yield* sql.unsafe("SELECT epoch FROM serf_epochs WHERE serf = $1 FOR UPDATE", [SERF])
    yield* Deferred.succeed(locked, undefined)
    yield* Deferred.await(release)
  })))
  yield* Deferred.await(locked)
  const done = Effect.andThen(Deferred.succeed(release, undefined), Fiber.join(holder))
  yield* Effect.addFinalizer(() => Effect.ignore(done))
  return done
})

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

for (const { name, store: storeIn } of storages) {
  describe(`pier on ${name}`, () => {
    live("boots a fresh pier, answers once durable, and comes back from its log", (dir) =>
      Effect.gen(function*() {
        const store = storeIn(dir)
        yield* Effect.scoped(Effect.gen(function*() {
          const pier = yield* store.open({
            ...kvSerf,
            boot: [{ wen: 1, ev: { op: "put", key: "booted", value: true } }, { wen: 2, ev: { op: "put", key: "n", value: 0 } }]
          })
          const answers = yield* Effect.forEach(range(1, 50), () => pier.poke({ op: "incr", key: "n" }), { concurrency: 10 })
          expect(answers.map((a) => (a as { eve: number }).eve).sort((a, b) => a - b)).toEqual(range(3, 52))
          expect((yield* pier.poke({ op: "what" }))._tag).toBe("Bail")
          expect(yield* pier.poke({ op: "crash" })).toMatchObject({ _tag: "Swap", eve: 53, ev: { op: "crashed" } })
          expect(yield* pier.peek(["get", "n"])).toBe(50)
          expect(pier.view().eve).toBe(53)
        }))
        const rows = yield* store.logged
        expect(rows.map((r) => r.eve)).toEqual(range(1, 53))
        expect(rows[0]!.mug).toBeNull()
        expect(rows[1]!.mug).not.toBeNull()
        expect(JSON.parse(rows[52]!.ev)).toEqual({ op: "crashed" })
        // no snapshot was taken: the next serf replays all 53 events
        yield* Effect.scoped(Effect.gen(function*() {
          const pier = yield* store.open({ ...kvSerf, batchSize: 7 })
          expect(yield* pier.peek(["get", "n"])).toBe(50)
          expect(yield* pier.peek(["get", "crashes"])).toBe(1)
          expect(pier.counters.replay()).toMatchObject({ done: 53, total: 53 })
          expect(pier.view()).toMatchObject({ eve: 53, mug: rows[52]!.mug })
        }))
      }))

    live("a serf killed under load is restarted and replays the log; every event is answered once and logged once", (dir) =>
      Effect.gen(function*() {
        const store = storeIn(dir)
        yield* Effect.scoped(Effect.gen(function*() {
          const pier = yield* store.open({ ...testSerf(), maxInFlight: 16 })
          const load = yield* Effect.forkChild(Effect.forEach(range(1, 400), (n) => pier.poke({ n }), { concurrency: 32 }))
          yield* until(() => pier.view().logged > 50)
          process.kill(pier.view().pid!, "SIGKILL")
          const answers = yield* Fiber.join(load)
          expect(answers.every((a) => a._tag === "Done")).toBe(true)
          expect(new Set(answers.map((a) => (a as { eve: number }).eve)).size).toBe(400)
          expect(pier.view().restarts.total).toBe(1)
          expect(yield* pier.peek(["total"])).toBe((400 * 401) / 2)
        }))
        const rows = yield* store.logged
        expect(rows.map((r) => r.eve)).toEqual(range(1, 400))
        expect(rows.map((r) => JSON.parse(r.ev).n).sort((a, b) => a - b)).toEqual(range(1, 400))
      }))

    live("a poison event is refused and not logged; the others are answered and logged in order", (dir) =>
      Effect.gen(function*() {
        const store = storeIn(dir)
        const events = [...range(1, 5).map((n) => ({ n })), { poison: true }, ...range(6, 10).map((n) => ({ n }))]
        const answers = yield* Effect.scoped(Effect.gen(function*() {
          const pier = yield* store.open({ ...poisonSerf, maxInFlight: 4, maxRestarts: 0 })
          const answers = yield* Effect.forEach(events, (ev) => Effect.exit(pier.poke(ev)), { concurrency: "unbounded" })
          expect(pier.view().poisoned).toBe(1)
          expect(yield* pier.poke({ n: 100 })).toMatchObject({ _tag: "Done", eve: 11 })
          expect(yield* pier.peek(["sum"])).toBe(155)
          return answers
        }))
        const poison = answers[5]!
        expect(Exit.isFailure(poison) && Exit.findErrorOption(poison).pipe((o) => o._tag === "Some" && o.value._tag)).toBe("SerfPoisoned")
        expect(answers.filter(Exit.isSuccess)).toHaveLength(10)
        const rows = yield* store.logged
        expect(rows.map((r) => r.eve)).toEqual(range(1, 11))
        expect(rows.map((r) => JSON.parse(r.ev))).toEqual([...range(1, 10).map((n) => ({ n })), { n: 100 }])
      }))

    live("a snapshot is never ahead of the log, and a restart replays only what follows it", (dir) =>
      Effect.gen(function*() {
        const store = storeIn(dir)
        yield* Effect.scoped(Effect.gen(function*() {
          const pier = yield* store.open({ ...kvSerf })
          // answered but maybe not yet committed when the snapshot is asked for: it waits for them
          const pokes = yield* Effect.forkChild(Effect.forEach(range(0, 19), (i) => pier.poke({ op: "put", key: `k${i}`, value: i }), {
            concurrency: "unbounded"
          }))
          const saved = yield* pier.snapshot
          yield* Fiber.join(pokes)
          const snap = JSON.parse(fs.readFileSync(path.join(dir, "kv-snapshot.json"), "utf8"))
          expect(snap.eve).toBe(saved)
          expect(saved).toBeLessThanOrEqual(pier.view().eve)
          expect(yield* pier.snapshot).toBe(20)
          yield* pier.poke({ op: "put", key: "after", value: "snapshot" })
        }))
        const rows = yield* store.logged
        expect(rows).toHaveLength(21)
        yield* Effect.scoped(Effect.gen(function*() {
          const pier = yield* store.open({ ...kvSerf })
          expect(yield* pier.peek(["get", "after"])).toBe("snapshot")
          expect(yield* pier.peek(["get", "k19"])).toBe(19)
          expect(pier.counters.replay()).toMatchObject({ done: 1, total: 1 })
          expect(pier.view().lastSnapshotEve).toBe(20)
        }))
      }))

    it.live("an event under way when the pier's scope closes ends with ShuttingDown; its caller does not hang", () => {
      const logs = captureLogs()
      const dir = tempDir("liege-store-")
      return withDatabase(pg.createDb, () =>
        Effect.scoped(Effect.gen(function*() {
          const store = storeIn(dir)
          // closed by the test, or at its end if it fails first
          const scope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
          const pier = yield* store.open({ ...testSerf(), stopGrace: 100 }).pipe(Scope.provide(scope))
          const poke = yield* Effect.forkChild(Effect.flip(pier.poke({ op: "sleep", ms: 30_000 })))
          yield* until(() => logs.lines.some((l) => l.message === "stderr: event sleeping"))
          yield* Scope.close(scope, Exit.void)
          const e = yield* Fiber.join(poke)
          expect(e._tag).toBe("ShuttingDown")
          expect(e.message).toContain("the pier closed")
        }))).pipe(
          Effect.provide(logs.layer),
          Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
        ) as Effect.Effect<void, unknown>
    })

    live("a serf with another identity is refused", (dir) =>
      Effect.gen(function*() {
        const store = storeIn(dir)
        yield* Effect.scoped(Effect.flatMap(store.open({ ...testSerf() }), (pier) => pier.poke({ n: 1 })))
        yield* Effect.scoped(Effect.gen(function*() {
          const pier = yield* store.open({ ...testSerf({ TEST_SERF_HON: "2" }) })
          const fatal = yield* pier.fatal
          expect(fatal._tag).toBe("PierMismatch")
          expect(fatal.message).toContain("hon")
        }))
      }))

    live("the running serf's process is recorded on its machine; one left behind by a killed liege is reaped", (dir) =>
      Effect.gen(function*() {
        const store = storeIn(dir)
        const leftover = spawn("sh", ["-c", "trap '' TERM; exec sleep 1000"], { detached: true, stdio: "ignore" })
        // it ignores SIGTERM: if the test fails before the pier reaps it, it goes here
        yield* Effect.addFinalizer(() => Effect.sync(() => {
          try {
            process.kill(leftover.pid!, "SIGKILL")
          } catch {}
        }))
        const gone = new Promise((r) => leftover.once("exit", r))
        yield* Effect.promise(() => eventually(() => processIdentity(leftover.pid!) !== undefined))
        yield* Effect.scoped(Effect.gen(function*() {
          const pier = yield* store.open({ ...testSerf() })
          yield* pier.poke({ n: 1 })
          if (name === "PostgreSQL") {
            expect(fs.readFileSync(path.join(dir, LEFTOVER_FILE), "utf8").trim()).toBe(processIdentity(pier.view().pid!))
          }
          yield* pier.shutdown(1000)
          if (name === "PostgreSQL") expect(fs.existsSync(path.join(dir, LEFTOVER_FILE))).toBe(false)
        }))
        yield* store.leaveBehind(processIdentity(leftover.pid!)!)
        yield* Effect.scoped(Effect.gen(function*() {
          const pier = yield* store.open({ ...testSerf() })
          expect(isAlive(leftover.pid!)).toBe(false)
          expect(yield* pier.poke({ n: 2 })).toMatchObject({ _tag: "Done", eve: 2 })
        }))
        yield* Effect.promise(() => gone)
      }))
  })
}

describe("pier on PostgreSQL: a shared, fenced, asynchronous log", () => {
  live("while a commit is in flight, answers wait for it and go in the next one; they are released in order once durable", (dir) =>
    Effect.gen(function*() {
      const store = postgresStore(dir)
      const sizes: Array<number> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* store.open({ ...testSerf() }, { onCommit: (n) => sizes.push(n) })
        yield* pier.poke({ n: 1 })
        expect(sizes).toEqual([1])
        // another transaction holds the serf's epoch row: every append waits for it
        const release = yield* holdAppends
        const released: Array<number> = []
        let asked = 0
        const poke = (n: number) =>
          Effect.andThen(Effect.sync(() => asked++), pier.poke({ n })).pipe(
            Effect.tap((a) => Effect.sync(() => released.push((a as { eve: number }).eve)))
          )
        const first = yield* Effect.forkChild(poke(2))
        // the serf answered it: its commit is in flight, held up
        yield* until(() => asked === 1 && pier.view().pending === 0)
        const rest = yield* Effect.forkChild(Effect.forEach(range(3, 20), poke, { concurrency: "unbounded" }))
        yield* until(() => asked === 19 && pier.view().pending === 0)
        // every event is answered by the serf, none released: the log does not hold them yet
        expect(released).toEqual([])
        expect(sizes).toEqual([1])
        expect((yield* store.logged).map((r) => r.eve)).toEqual([1])
        yield* release
        yield* Fiber.join(first)
        yield* Fiber.join(rest)
        expect(released).toEqual(range(2, 20))
        // the one in flight, then all that came meanwhile, in one transaction
        expect(sizes).toEqual([1, 1, 18])
        expect(yield* pier.peek(["total"])).toBe((20 * 21) / 2)
      }))
      expect((yield* store.logged).map((r) => JSON.parse(r.ev).n)).toEqual(range(1, 20))
    }))

  live("a snapshot waits for the commit in flight: it is never ahead of the log", (dir) =>
    Effect.gen(function*() {
      const store = postgresStore(dir)
      const snapFile = path.join(dir, "kv-snapshot.json")
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* store.open({ ...kvSerf })
        yield* pier.poke({ op: "put", key: "a", value: 1 })
        const release = yield* holdAppends
        let asked = false
        const poke = yield* Effect.forkChild(Effect.andThen(Effect.sync(() => (asked = true)), pier.poke({ op: "put", key: "b", value: 2 })))
        // the serf answered it: its commit is in flight, held up
        yield* until(() => asked && pier.view().pending === 0)
        const snapshot = yield* Effect.forkChild(pier.snapshot)
        // (a snapshot that did not wait would be done in a few ms)
        expect(yield* Effect.timeoutOption(Fiber.await(snapshot), 1000)).toMatchObject({ _tag: "None" })
        expect(fs.existsSync(snapFile)).toBe(false)
        yield* release
        expect(yield* Fiber.join(poke)).toMatchObject({ _tag: "Done", eve: 2 })
        expect(yield* Fiber.join(snapshot)).toBe(2)
        expect(JSON.parse(fs.readFileSync(snapFile, "utf8")).eve).toBe(2)
      }))
    }))

  live("a pier whose serf another claimed: its callers get PierFenced, its serf is killed, nothing of it is logged after the claim; the new one replays and serves on", (dir) =>
    Effect.gen(function*() {
      const a = postgresStore(path.join(dir, "a"))
      const b = postgresStore(path.join(dir, "b"))
      yield* Effect.scoped(Effect.gen(function*() {
        const pierA = yield* a.open({ ...testSerf() })
        for (const n of range(1, 3)) yield* pierA.poke({ n })
        const serfA = pierA.view().pid!
        // another runner takes the serf over: it claims the log and replays it
        const pierB = yield* b.open({ ...testSerf() })
        expect(yield* pierB.peek(["total"])).toBe(6)
        expect(pierB.counters.replay()).toMatchObject({ done: 3, total: 3 })
        // A does not know yet: its serf answers, but the commit is refused
        const lost = yield* Effect.forEach(range(100, 104), (n) => Effect.flip(pierA.poke({ n })), { concurrency: "unbounded" })
        for (const e of lost) {
          expect(e._tag).toBe("PierFenced")
          expect(e.message).toMatch(/lost the serf to another writer/)
        }
        expect((yield* pierA.fatal)._tag).toBe("PierFenced")
        yield* until(() => !isAlive(serfA))
        expect(pierA.ready()).toBe(false)
        expect((yield* Effect.flip(pierA.poke({ n: 1000 })))._tag).toBe("PierFenced")
        expect((yield* Effect.flip(pierA.peek(["total"])))._tag).toBe("PierFenced")
        // B serves on, from the log
        expect(yield* pierB.poke({ n: 4 })).toMatchObject({ _tag: "Done", eve: 4 })
        expect(yield* pierB.peek(["total"])).toBe(10)
        expect((yield* a.logged).map((r) => JSON.parse(r.ev).n)).toEqual(range(1, 4))
        yield* pierA.shutdown(1000)
        // A lost the serf: no snapshot of it was saved after it
        expect(fs.existsSync(path.join(a.dir, "test-serf.json"))).toBe(false)
      }))
      yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* b.open({ ...testSerf() })
        expect(yield* pier.peek(["total"])).toBe(10)
      }))
    }))

  live("a log of another pier format is refused: PierMismatch", (dir) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const store = postgresStore(dir)
      yield* Effect.scoped(Effect.flatMap(store.open({ ...testSerf() }), (pier) => pier.poke({ n: 1 })))
      yield* sql.unsafe("UPDATE serf_meta SET value = '7' WHERE serf = $1 AND key = 'version'", [SERF])
      const e = yield* Effect.flip(Effect.scoped(store.open({ ...testSerf() })))
      expect(e).toMatchObject({ _tag: "PierMismatch" })
      expect((e as Error).message).toContain("has pier format 7; this liege reads format 1")
    }))
})
