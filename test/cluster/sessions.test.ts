/**
 * `liege cluster pool` (SPEC §9) with 3 runners on loopback and a real
 * PostgreSQL: session jobs stored from any runner run in order, one at a
 * time, on the runner that owns the session; with runners killed under
 * load, every stored job ends in exactly one final state, per-session order
 * holds and a session never has two jobs running at once anywhere.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { describe, expect, it } from "vitest"
import { RunnerStatus } from "../../src/status/document.ts"
import { kill9, type RunnerProcess, settled, startRunner } from "../support/cluster.ts"
import { post, request } from "../support/http.ts"
import { eventually, fixture, liege, node } from "../support/procs.ts"
import { usePostgres } from "../support/postgres.ts"
import { inTemp } from "../support/serfs.ts"
import { clientLayer } from "./db.ts"

const pg = usePostgres()
const worker = ["--", node, fixture("session-worker.ts")]

/** Waits until job `id` is done (15 s at most). */
const done = async (url: string, id: number) => {
  const deadline = Date.now() + 15_000
  for (;;) {
    const state = (await job(url, id)).state
    if (state === "done") return
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${state} after 15 s`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const job = async (url: string, id: number) => (await request("GET", `${url}/v1/jobs/${id}`)).body as { state: string; ok?: { seq: number } }

interface Span { readonly session: string; readonly seq: number; readonly start: number; readonly end: number | undefined }

/** The worker's log as spans per (session, seq), each run of a job on its own. */
const spans = (file: string): Array<Span> => {
  const open = new Map<string, Span>()
  const out: Array<Span> = []
  for (const line of fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "")) {
    const [what, session, seq, pid, at] = line.split(" ")
    const key = `${session} ${seq} ${pid}`
    if (what === "start") open.set(key, { session: session!, seq: Number(seq), start: Number(at), end: undefined })
    else {
      const s = open.get(key)!
      open.delete(key)
      out.push({ ...s, end: Number(at) })
    }
  }
  return [...out, ...open.values()]
}

describe("liege cluster pool", () => {
  it("bad flags exit 2 and an unreachable database exits 1, with one line, nothing spawned", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const marker = path.join(dir, "spawned")
      const cmd = ["--", "sh", "-c", `touch ${marker}`]
      const bad = await liege(["cluster", "pool", "--runner", "127.0.0.1:1", ...cmd])
      expect(bad.status).toBe(2)
      expect(bad.stderr.trim().split("\n")).toHaveLength(1)
      expect(bad.stderr).toMatch(/^liege: .*--database/)
      const badRunner = await liege(["cluster", "serf", "--database", "postgres://x@127.0.0.1:1/x", "--runner", "nowhere", ...cmd])
      expect(badRunner.status).toBe(2)
      const unreachable = await liege(["cluster", "pool", "--database", "postgres://liege@127.0.0.1:1/none", "--runner", "127.0.0.1:34999", "--listen", "127.0.0.1:0", ...cmd])
      expect(unreachable.status).toBe(1)
      const lines = unreachable.stderr.trim().split("\n")
      expect(lines.at(-1)).toMatch(/^liege: cannot reach the database postgres:\/\/liege@127\.0\.0\.1:1\/none: /)
      expect(fs.existsSync(marker)).toBe(false)
    })
  })

  it("3 runners: jobs of each session run in order, one at a time, each once; GET from any runner", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const log = path.join(dir, "jobs.log")
      const runners = await Promise.all([0, 1, 2].map(() => startRunner("pool", db, ["--workers", "2", ...worker])))
      const ids: Array<[string, number, number]> = []
      for (let seq = 0; seq < 6; seq++) {
        for (const session of ["s1", "s2", "s3", "s4"]) {
          const via = runners[(seq + ids.length) % 3]!
          const r = await post(`${via.url}/v1/jobs?session=${session}`, { session, seq, ms: 20, log })
          expect(r.status).toBe(202)
          ids.push([session, seq, r.body.id])
        }
      }
      await eventually(() => fs.existsSync(log) && spans(log).filter((s) => s.end !== undefined).length >= ids.length, 30_000, "every job to run")
      for (const [, seq, id] of ids) {
        const answer = await job(runners[id % 3]!.url, id)
        expect(answer.state).toBe("done")
        expect(answer.ok?.seq).toBe(seq)
      }
      // a runner's status document: its pool and the sessions it owns
      const doc = Schema.decodeUnknownSync(RunnerStatus)((await request("GET", `${runners[0]!.url}/v1/status`)).body)
      expect(doc).toMatchObject({ kind: "runner", role: "pool", healthy: true })
      expect(doc.pool?.workers).toHaveLength(2)
      // each runner reloads its own workers (SPEC §5 Reload): the others keep theirs
      expect(await post(`${runners[0]!.url}/v1/reload`, {})).toMatchObject({ status: 200, body: { reloaded: 2, generation: 2 } })
      const other = Schema.decodeUnknownSync(RunnerStatus)((await request("GET", `${runners[1]!.url}/v1/status`)).body)
      expect(other.pool?.reload).toMatchObject({ generation: 1, total: 0 })
      // with no runner lost, each job ran once
      expect(spans(log).map((s) => `${s.session} ${s.seq}`).sort()).toEqual(ids.map(([s, q]) => `${s} ${q}`).sort())
      checkSessions(spans(log))
      await Promise.all(runners.map(async (r) => {
        r.proc.kill("SIGTERM")
        expect(await r.exited).toBe(0)
      }))
    })
  })

  it("a job left marked running under the session's own claim (its end was lost) does not stop the session: it is claimed again and both jobs run", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const log = path.join(dir, "jobs.log")
      const runner = await startRunner("pool", db, ["--workers", "1", ...worker])
      const first = await post(`${runner.url}/v1/jobs?session=lost`, { session: "lost", seq: 0, ms: 1, log })
      await done(runner.url, first.body.id)
      // what a settle lost to the database leaves: a job of the session marked running, on its current claim
      const payload = JSON.stringify({ session: "lost", seq: 1, ms: 1, log })
      const [row] = await Effect.runPromise(SqlClient.use((sql) =>
        sql.unsafe<{ id: number }>(`INSERT INTO session_jobs (session, payload, state) VALUES ('lost', $1, 'running') RETURNING id::float8 AS id`, [payload])
      ).pipe(Effect.provide(clientLayer(db))))
      const next = await post(`${runner.url}/v1/jobs?session=lost`, { session: "lost", seq: 2, ms: 1, log })
      await done(runner.url, next.body.id)
      expect((await job(runner.url, row!.id)).state).toBe("done")
      expect(spans(log).map((s) => s.seq)).toEqual([0, 1, 2])
      runner.proc.kill("SIGTERM")
      expect(await exitWithin(runner, 20_000)).toBe(0)
    })
  })

  it("a session fenced off by a claim from elsewhere, with nobody else serving it, is claimed back after a pause and goes on", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const log = path.join(dir, "jobs.log")
      const runner = await startRunner("pool", db, ["--workers", "1", ...worker])
      const first = await post(`${runner.url}/v1/jobs?session=taken`, { session: "taken", seq: 0, ms: 1, log })
      await done(runner.url, first.body.id)
      // another runner took the session over (a new epoch) and then went away
      await Effect.runPromise(SqlClient.use((sql) => sql.unsafe(`UPDATE session_epochs SET epoch = epoch + 1 WHERE session = 'taken'`)).pipe(
        Effect.provide(clientLayer(db))
      ))
      const next = await post(`${runner.url}/v1/jobs?session=taken`, { session: "taken", seq: 1, ms: 1, log })
      await done(runner.url, next.body.id)
      expect(spans(log).map((s) => s.seq)).toEqual([0, 1])
      expect(runner.stderr()).toContain("session taken: its jobs stopped; it is claimed again at the next wake")
      runner.proc.kill("SIGTERM")
      expect(await exitWithin(runner, 20_000)).toBe(0)
    })
  })

  it("a session whose last job was running on a runner killed with SIGKILL is claimed by another and the job runs again", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const log = path.join(dir, "jobs.log")
      const runners = await Promise.all([0, 1].map(() => startRunner("pool", db, ["--workers", "1", ...worker])))
      // a session picked by where it lives must stay there: no rebalancing under way
      await settled(runners)
      const owned = async (r: RunnerProcess) =>
        Schema.decodeUnknownSync(RunnerStatus)((await request("GET", `${r.url}/v1/status`)).body).sessions?.owned ?? 0
      // a session that runner 0 owns (its count of owned sessions goes up), so that the wake of the
      // job posted to it dies with it
      const [owner, other] = runners as [RunnerProcess, RunnerProcess]
      let session = ""
      for (let i = 0; i < 40 && session === ""; i++) {
        const before = await owned(owner)
        const probe = await post(`${owner.url}/v1/jobs?session=last${i}`, { session: `last${i}`, seq: -1, ms: 1, log })
        await done(owner.url, probe.body.id)
        if ((await owned(owner)) > before) session = `last${i}`
      }
      expect(session).not.toBe("")
      const only = await post(`${owner.url}/v1/jobs?session=${session}`, { session, seq: 0, ms: 3000, log })
      await eventually(() => spans(log).some((s) => s.session === session && s.seq === 0), 15_000, "the job to start")
      await kill9(owner)
      // nothing else is posted: only the poll can find the session, whose one job is marked running
      await done(other.url, only.body.id)
      expect(spans(log).filter((s) => s.session === session).map((s) => s.seq)).toEqual([-1, 0, 0])
      other.proc.kill("SIGTERM")
      expect(await exitWithin(other, 20_000)).toBe(0)
    })
  })

  it("SIGTERM to a runner with a session's jobs queued: none is failed by the stopping pool; the next runner runs them all", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const log = path.join(dir, "jobs.log")
      const first = await startRunner("pool", db, ["--workers", "1", ...worker])
      const ids: Array<number> = []
      for (let seq = 0; seq < 6; seq++) ids.push((await post(`${first.url}/v1/jobs?session=stop`, { session: "stop", seq, ms: 200, log })).body.id)
      await eventually(() => fs.existsSync(log) && spans(log).length >= 1, 15_000, "the first job to start")
      first.proc.kill("SIGTERM")
      expect(await exitWithin(first, 20_000)).toBe(0)
      const next = await startRunner("pool", db, ["--workers", "1", ...worker])
      for (const id of ids) await done(next.url, id)
      next.proc.kill("SIGTERM")
      expect(await exitWithin(next, 20_000)).toBe(0)
    })
  })

  it("runners killed under load: every stored job ends in exactly one final state, in order, never two of a session at once", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const log = path.join(dir, "jobs.log")
      let runners: Array<RunnerProcess> = await Promise.all([0, 1, 2].map(() => startRunner("pool", db, ["--workers", "2", ...worker])))
      const ids: Array<number> = []
      const sessions = ["a", "b", "c", "d", "e", "f"]
      let seq = 0
      for (let round = 0; round < 3; round++) {
        for (let k = 0; k < 4; k++) {
          for (const session of sessions) {
            const via = runners[(seq++) % runners.length]!
            const r = await post(`${via.url}/v1/jobs?session=${session}`, { session, seq: round * 4 + k, ms: 30, log })
            expect(r.status).toBe(202)
            ids.push(r.body.id)
          }
        }
        // kill one runner mid-work, start another in its place
        const victim = runners[round % runners.length]!
        await kill9(victim)
        runners = runners.filter((r) => r !== victim)
        runners.push(await startRunner("pool", db, ["--workers", "2", ...worker]))
      }
      const states = async () => Promise.all(ids.map((id) => job(runners[0]!.url, id)))
      // usually settled within 10 s of the last kill; the deadline leaves room to say what is stuck
      const deadline = Date.now() + 40_000
      let last: Array<{ state: string }> = []
      while (Date.now() < deadline) {
        last = await states()
        if (last.every((j) => j.state === "done")) break
        await new Promise((r) => setTimeout(r, 200))
      }
      const stuck = last.filter((j) => j.state !== "done")
      expect(stuck, `jobs not done:\n${JSON.stringify(stuck)}\n${runners.map((r) => `runner ${r.url}:\n${r.stderr().split("\n").slice(-40).join("\n")}`).join("\n")}`).toEqual([])
      checkSessions(spans(log))
      await Promise.all(runners.map(async (r) => {
        r.proc.kill("SIGTERM")
        expect(await exitWithin(r, 20_000)).toBe(0)
      }))
    })
  }, 90_000)
})

/** The runner's exit status, or what it last logged if it is still running after `ms`. */
const exitWithin = async (r: RunnerProcess, ms: number): Promise<number | string> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`still running ${ms} ms after SIGTERM:\n${r.stderr().split("\n").slice(-40).join("\n")}`), ms)
  })
  try {
    return await Promise.race([r.exited, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Per session: jobs start in seq order (a job may run again after its runner died), and never overlap another seq. */
const checkSessions = (all: ReadonlyArray<Span>) => {
  const bySession = new Map<string, Array<Span>>()
  for (const s of all) bySession.set(s.session, [...(bySession.get(s.session) ?? []), s])
  for (const [session, list] of bySession) {
    const sorted = [...list].sort((a, b) => a.start - b.start)
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!
      const cur = sorted[i]!
      // order: a job's seq is never below one that started before it, unless it is the same job again
      expect(cur.seq >= prev.seq, `session ${session}: seq ${cur.seq} started after ${prev.seq}`).toBe(true)
      // one at a time: a different job starts only after the previous one ended (or its runner died: no end)
      if (cur.seq !== prev.seq && prev.end !== undefined) {
        expect(cur.start >= prev.end, `session ${session}: ${cur.seq} started while ${prev.seq} ran`).toBe(true)
      }
    }
  }
}
