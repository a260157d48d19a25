/**
 * The session jobs in PostgreSQL (SPEC §7, §9), against a real PostgreSQL 15:
 * per-session order, one job running per session, one recorded final state,
 * and fencing of a session's stale owner.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { make } from "../../src/cluster/job-store.ts"
import { usePostgres } from "../support/postgres.ts"
import { withDatabase } from "./db.ts"

const pg = usePostgres()

const live = <A, E>(name: string, body: Effect.Effect<A, E, any>) =>
  it.live(name, () => withDatabase(pg.createDb, () => body) as Effect.Effect<A, unknown>)

describe("cluster job store", () => {
  live("jobs of a session run in order, one at a time; sessions are apart", Effect.gen(function*() {
    const store = yield* make
    const a1 = yield* store.add("a", `{"n":1}`)
    const b1 = yield* store.add("b", `{"n":"b1"}`)
    const a2 = yield* store.add("a", `{"n":2}`)
    const a3 = yield* store.add("a", `{"n":3}`)
    expect([a1, b1, a2, a3].every((id) => typeof id === "number" && Number.isSafeInteger(id))).toBe(true)
    expect(a1 < a2 && a2 < a3).toBe(true)
    expect([...(yield* store.sessionsWithWork)].sort()).toEqual(["a", "b"])
    expect(yield* store.head("a")).toEqual({ id: a1, session: "a", payload: { n: 1 }, state: "queued" })
    expect(yield* store.head("nobody")).toBeUndefined()
    expect(yield* store.get(999_999)).toBeUndefined()

    const owner = yield* store.claimSession("a")
    expect(owner).toMatchObject({ session: "a", epoch: 1, recovered: 0 })
    expect(yield* owner.start(a2)).toBe(false) // not the oldest
    expect(yield* owner.start(b1)).toBe(false) // not this session's
    expect(yield* owner.start(a1)).toBe(true)
    expect(yield* owner.start(a1)).toBe(false) // already running
    expect(yield* owner.start(a2)).toBe(false) // one at a time: a1 runs
    expect((yield* store.get(a1))!.state).toBe("running")
    expect((yield* store.head("a"))!.id).toBe(a2)

    // cut off: back in the queue, before the rest
    expect(yield* owner.requeue(a1)).toBe(true)
    expect(yield* owner.requeue(a1)).toBe(false)
    expect((yield* store.head("a"))!.id).toBe(a1)
    expect(yield* owner.start(a1)).toBe(true)
    expect([...(yield* store.sessionsWithWork)].sort()).toEqual(["a", "b"])
    expect(yield* owner.settle(a1, { ok: { answer: [1, "é😀"] } })).toBe(true)
    expect(yield* store.get(a1)).toEqual({ id: a1, session: "a", payload: { n: 1 }, state: "done", ok: { answer: [1, "é😀"] } })

    expect(yield* owner.start(a2)).toBe(true)
    expect(yield* owner.settle(a2, { error: { tag: "Boom", message: "no" } })).toBe(true)
    expect(yield* store.get(a2)).toEqual({ id: a2, session: "a", payload: { n: 2 }, state: "failed", error: { tag: "Boom", message: "no" } })
    expect(yield* owner.start(a3)).toBe(true)
    expect(yield* owner.settle(a3, { ok: undefined })).toBe(true)
    expect((yield* store.get(a3))!.ok).toBeNull()
    expect(yield* store.sessionsWithWork).toEqual(["b"])
  }))

  live("every job has exactly one recorded final state, whatever settles race", Effect.gen(function*() {
    const store = yield* make
    const owner = yield* store.claimSession("s")
    for (let round = 0; round < 10; round++) {
      const id = yield* store.add("s", `{"round":${round}}`)
      expect(yield* owner.start(id)).toBe(true)
      const outcomes = Array.from({ length: 12 }, (_, i) => i % 2 === 0 ? { ok: i } : { error: i })
      const won = yield* Effect.forEach(outcomes, (o) => owner.settle(id, o), { concurrency: "unbounded" })
      expect(won.filter((w) => w).length).toBe(1)
      const winner = outcomes[won.indexOf(true)]!
      const job = (yield* store.get(id))!
      if ("ok" in winner) expect(job).toMatchObject({ state: "done", ok: winner.ok })
      else expect(job).toMatchObject({ state: "failed", error: winner.error })
      expect(yield* owner.settle(id, { ok: "late" })).toBe(false)
      expect(yield* owner.requeue(id)).toBe(false) // a settled job stays settled
      expect(yield* owner.start(id)).toBe(false)
    }
  }))

  live("racing starts: one job of a session runs, once", Effect.gen(function*() {
    const store = yield* make
    const owner = yield* store.claimSession("r")
    const ids = yield* Effect.forEach([1, 2, 3, 4], (n) => store.add("r", String(n)))
    const started = yield* Effect.forEach([...ids, ...ids, ...ids], (id) => owner.start(id), { concurrency: "unbounded" })
    expect(started.filter((s) => s).length).toBe(1)
    const sql = yield* SqlClient
    const running = yield* sql<{ id: number }>`SELECT id::float8 AS id FROM session_jobs WHERE state = 'running'`
    expect(running).toEqual([{ id: ids[0]! }])
    // the table itself refuses a second running job in a session, whoever writes it
    const second = yield* Effect.flip(sql`UPDATE session_jobs SET state = 'running' WHERE id = ${ids[1]!}`)
    expect(second.reason._tag).toBe("UniqueViolation")
  }))

  live("a stale owner can start, requeue or settle nothing; the claim queues its running job again", Effect.gen(function*() {
    const store = yield* make
    const j1 = yield* store.add("s", `"first"`)
    const j2 = yield* store.add("s", `"second"`)
    const a = yield* store.claimSession("s")
    expect(yield* a.start(j1)).toBe(true)
    const b = yield* store.claimSession("s")
    expect(b).toMatchObject({ epoch: a.epoch + 1, recovered: 1 })
    expect((yield* store.get(j1))!.state).toBe("queued")
    const fenced = yield* Effect.flip(a.settle(j1, { ok: "from a" }))
    expect(fenced).toMatchObject({ _tag: "JobFenced", session: "s", epoch: 1, current: 2 })
    expect((yield* Effect.flip(a.start(j1)))._tag).toBe("JobFenced")
    expect((yield* Effect.flip(a.requeue(j1)))._tag).toBe("JobFenced")
    expect((yield* store.get(j1))!.state).toBe("queued")
    expect(yield* b.start(j1)).toBe(true)
    // a is still fenced while b runs the job: it cannot settle b's run either
    expect((yield* Effect.flip(a.settle(j1, { error: "from a" })))._tag).toBe("JobFenced")
    expect(yield* b.settle(j1, { ok: "from b" })).toBe(true)
    expect(yield* store.get(j1)).toMatchObject({ state: "done", ok: "from b" })
    expect((yield* Effect.flip(a.start(j2)))._tag).toBe("JobFenced")
    expect((yield* store.get(j2))!.state).toBe("queued")
    // other sessions are not affected by s's epochs
    const other = yield* store.claimSession("t")
    expect(other.epoch).toBe(1)
  }))

  live("a stale owner's start racing the claim: after the claim returned, no job of the old owner runs", Effect.gen(function*() {
    const store = yield* make
    for (let round = 0; round < 20; round++) {
      const session = `race-${round}`
      const ids = yield* Effect.forEach([0, 1, 2], (n) => store.add(session, String(n)))
      const a = yield* store.claimSession(session)
      const go = yield* Deferred.make<void>()
      // a starts and settles as fast as it can until fenced
      const runA = yield* Effect.forkChild(Effect.gen(function*() {
        yield* Deferred.await(go)
        for (const id of ids) {
          const started = yield* Effect.result(a.start(id))
          if (started._tag === "Failure") return
          const settled = yield* Effect.result(a.settle(id, { ok: "a" }))
          if (settled._tag === "Failure") return
        }
      }))
      yield* Deferred.succeed(go, undefined)
      const b = yield* store.claimSession(session)
      const sql = yield* SqlClient
      const states = () =>
        sql<{ state: string }>`SELECT state FROM session_jobs WHERE session = ${session} ORDER BY id`.pipe(
          Effect.map((rows) => rows.map((r) => r.state))
        )
      const atClaim = yield* states()
      expect(atClaim).not.toContain("running")
      yield* Fiber.join(runA)
      expect(yield* states()).toEqual(atClaim) // nothing of a's landed after the claim
      const head = yield* store.head(session)
      if (head !== undefined) expect(yield* b.start(head.id)).toBe(true) // and the new owner goes on
    }
  }))

  live("payloads are JSON text, kept as given; what cannot be kept is refused", Effect.gen(function*() {
    const store = yield* make
    const text = `{"big": 12345678901234567890, "s" : "é😀\\u0000", "n":[1.50,-0]}`
    const id = yield* store.add("exact", text)
    const sql = yield* SqlClient
    const [row] = yield* sql<{ payload: string }>`SELECT payload FROM session_jobs WHERE id = ${id}`
    expect(row!.payload).toBe(text)
    const refused = (session: string, payload: string) => Effect.map(Effect.flip(store.add(session, payload)), (e) => e._tag)
    expect(yield* refused("exact", "not json")).toBe("JobRefused")
    expect(yield* refused("exact", `"\ud800"`)).toBe("JobRefused")
    expect(yield* refused("", "1")).toBe("JobRefused")
    expect(yield* refused("a\u0000b", "1")).toBe("JobRefused")
    const owner = yield* store.claimSession("exact")
    expect(yield* owner.start(id)).toBe(true)
    expect((yield* Effect.flip(owner.settle(id, { ok: 10n }))).message).toMatch(/no exact JSON form/)
    expect((yield* store.get(id))!.state).toBe("running")
    expect((yield* Effect.flip(store.get(1.5)))._tag).toBe("JobRefused")
    // a running job is work too: its owner may be gone, and only a wake gets the session claimed again
    expect((yield* store.sessionsWithWork)).toEqual(["exact"])
  }))
})
