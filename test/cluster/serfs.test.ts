/**
 * `liege cluster serf` (SPEC §9) with 3 runners on loopback and a real
 * PostgreSQL:
 *
 * 1. nothing acknowledged is lost: under load on several serfs, runners
 *    killed with SIGKILL again and again; every event answered 200 is in its
 *    serf's log exactly once, at the event number it was answered with, and
 *    a fresh replay from event 1 reproduces the logged mugs;
 * 2. one writer per serf (fencing): a runner frozen past its lock expiry
 *    while another takes its serf over, then resumed, appends nothing and
 *    kills its stale serf;
 * 3. no orphans: a killed runner's serfs exit, and a runner restarted on
 *    the same --data reaps one that did not;
 * 4. failover: the serf of a killed runner answers again through another.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer, Schema } from "effect"
import { RunnerStatus } from "../../src/status/document.ts"
import { SqlClient } from "effect/sql/SqlClient"
import { describe, expect, it, onTestFinished } from "vitest"
import { claim } from "../../src/cluster/event-log.ts"
import { pierLog } from "../../src/cluster/pier-log.ts"
import { openWith } from "../../src/pier/pier.ts"
import { isAlive } from "../../src/supervisor/group.ts"
import { kill9, type RunnerProcess, settled, startRunner } from "../support/cluster.ts"
import { post, request } from "../support/http.ts"
import { eventually, fixture, node, root } from "../support/procs.ts"
import { usePostgres } from "../support/postgres.ts"
import { inTemp } from "../support/serfs.ts"
import { clusterClientLayer } from "../support/cluster-client.ts"
import { clientLayer } from "./db.ts"

const pg = usePostgres()
const kv = ["--", node, path.join(root, "examples/kv-serf.ts")]
const testSerf = ["--", node, fixture("test-serf.ts")]

interface Row { readonly serf: string; readonly eve: number; readonly mug: number | null; readonly ev: string }

const logOf = (url: string) =>
  Effect.runPromise(Effect.gen(function*() {
    const sql = yield* SqlClient
    const rows = yield* sql.unsafe("SELECT serf, eve::float8, mug::float8, ev FROM serf_events ORDER BY serf, eve").values
    return rows.map((r): Row => ({ serf: r[0] as string, eve: r[1] as number, mug: r[2] as number | null, ev: r[3] as string }))
  }).pipe(Effect.provide(Layer.fresh(clientLayer(url)))))

/** The pids of the processes whose parent is `pid`. */
const childrenOf = (pid: number): Array<number> =>
  fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, "latin1")
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid
    } catch {
      return false
    }
  })

const runnerOf = (reply: { headers: Record<string, unknown> }) => String(reply.headers["liege-runner"])

describe("liege cluster serf", () => {
  it("law 1: runners killed under load lose no acknowledged event; each is logged once, at its number; a fresh replay agrees", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const serfs = ["s1", "s2", "s3", "s4", "s5", "s6"]
      const ports: Array<number> = []
      const runners: Array<RunnerProcess | undefined> = []
      for (let i = 0; i < 3; i++) {
        const r = await startRunner("serf", db, ["--data", path.join(dir, `r${i}`), "--max-in-flight", "16", ...kv])
        ports.push(r.runnerPort)
        runners.push(r)
      }
      const acked: Array<{ serf: string; eve: number; mug: number; tag: string }> = []
      let stop = false
      let seq = 0
      const client = async (c: number) => {
        while (!stop) {
          const live = runners.filter((r): r is RunnerProcess => r !== undefined)
          if (live.length === 0) {
            await new Promise((r) => setTimeout(r, 20))
            continue
          }
          const via = live[(seq + c) % live.length]!
          const serf = serfs[(seq + c) % serfs.length]!
          const tag = `t${seq++}`
          const r = await post(`${via.url}/v1/serfs/${serf}/events`, { op: "put", key: tag, value: c }).catch(() => undefined)
          if (r?.status === 200) acked.push({ serf, eve: r.body.eve, mug: r.body.mug, tag })
          else if (r !== undefined) expect(r.status, r.text).toBeGreaterThanOrEqual(500)
        }
      }
      const clients = Array.from({ length: 12 }, (_, c) => client(c))
      try {
        // three rounds: kill one runner, let the load run on, start it again on the same --data and port
        for (let round = 0; round < 3; round++) {
          await eventually(() => acked.length >= (round + 1) * 60, 60_000, `answers in round ${round}`)
          const i = round % 3
          const victim = runners[i]!
          runners[i] = undefined
          const itsSerfs = childrenOf(victim.proc.pid!)
          await kill9(victim)
          // law 5: its serfs see their stdin end and exit
          await eventually(() => itsSerfs.every((p) => !isAlive(p)), 10_000, "the killed runner's serfs to exit")
          await eventually(() => acked.length >= (round + 1) * 60 + 30, 60_000, `answers after the kill in round ${round}`)
          runners[i] = await startRunner("serf", db, ["--data", path.join(dir, `r${i}`), "--max-in-flight", "16", ...kv], { runnerPort: ports[i]! })
        }
      } finally {
        // the clients stop whatever happened above (they would spin on refused connections otherwise)
        stop = true
        await Promise.allSettled(clients)
      }
      await Promise.all(clients)
      const log = await logOf(db)
      const bySerf = new Map<string, Array<Row>>()
      for (const row of log) bySerf.set(row.serf, [...(bySerf.get(row.serf) ?? []), row])
      // in eve order, no gap
      for (const [serf, rows] of bySerf) expect(rows.map((r) => r.eve), serf).toEqual(rows.map((_, i) => i + 1))
      // every event once, even those never acknowledged
      const tags = log.map((r) => (JSON.parse(r.ev) as { key: string }).key)
      expect(new Set(tags).size).toBe(tags.length)
      // every acknowledged event, at the number and with the mug it was answered with
      const at = new Map(log.map((r) => [`${r.serf} ${r.eve}`, r]))
      for (const a of acked) {
        const row = at.get(`${a.serf} ${a.eve}`)
        expect(row, `${a.tag} on ${a.serf} at ${a.eve}`).toBeDefined()
        expect((JSON.parse(row!.ev) as { key: string }).key).toBe(a.tag)
        expect(row!.mug).toBe(a.mug)
      }
      for (const r of runners) {
        r!.proc.kill("SIGTERM")
        expect(await r!.exited).toBe(0)
      }
      // a fresh serf with no snapshot replays each log from event 1: the mugs agree (or the replay diverges)
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        for (const serf of bySerf.keys()) {
          const pier = yield* openWith(pierLog(yield* claim(serf), path.join(dir, "fresh", serf)), {
            dir: path.join(dir, "fresh", serf),
            command: node,
            args: [path.join(root, "examples/kv-serf.ts")]
          })
          const last = bySerf.get(serf)!.at(-1)!
          expect(pier.view()).toMatchObject({ eve: last.eve })
          expect(yield* pier.peek(["size"])).toBe(bySerf.get(serf)!.length)
          yield* pier.shutdown(1000)
        }
      })).pipe(Effect.provide(Layer.fresh(clientLayer(db)))))
    })
  }, 240_000)

  it("law 2: a runner frozen past its lock expiry, then resumed, appends nothing and kills its stale serf", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const a = await startRunner("serf", db, ["--data", path.join(dir, "a"), ...testSerf])
      const b = await startRunner("serf", db, ["--data", path.join(dir, "b"), ...testSerf])
      await settled([a, b])
      // a serf that lives on runner a
      let serf = ""
      for (let i = 0; i < 50 && serf === ""; i++) {
        const r = await post(`${a.url}/v1/serfs/x${i}/events`, { n: 1 })
        expect(r.status).toBe(200)
        if (runnerOf(r) === `127.0.0.1:${a.runnerPort}`) serf = `x${i}`
      }
      expect(serf).not.toBe("")
      const stale = childrenOf(a.proc.pid!).filter((p) => fs.readFileSync(`/proc/${p}/cmdline`, "latin1").includes("test-serf"))
      // an event the serf works on while its runner is frozen
      const sleeping = post(`${a.url}/v1/serfs/${serf}/events`, { op: "sleep", ms: 4000 })
      await eventually(() => a.stderr().includes("event sleeping"), 10_000, "the serf to take the event")
      a.proc.kill("SIGSTOP")
      try {
        // runner b takes the serf over once a's locks expired, and goes on from the log
        const deadline = Date.now() + 30_000
        let taken: Awaited<ReturnType<typeof post>> | undefined
        while (Date.now() < deadline) {
          taken = await post(`${b.url}/v1/serfs/${serf}/events`, { n: 2 }).catch(() => undefined)
          if (taken?.status === 200) break
          await new Promise((r) => setTimeout(r, 100))
        }
        expect(taken?.status).toBe(200)
        expect(taken!.body.eve).toBe(2)
        expect(runnerOf(taken!)).toBe(`127.0.0.1:${b.runnerPort}`)
      } finally {
        a.proc.kill("SIGCONT")
      }
      // a wakes up with the answer to the sleeping event: its own commit is fenced (a appends nothing) and its
      // serf killed; the event is answered 5xx, or — when a let the serf go before it answered — sent again
      // to where the serf lives now and logged there, once
      const late = await sleeping
      const resent = late.status === 200
      if (!resent) expect(late.status).toBeGreaterThanOrEqual(500)
      else expect(late.body.eve, JSON.stringify(late.body)).toBe(3)
      await eventually(() => stale.every((p) => !isAlive(p)), 10_000, "the stale serf to be killed")
      // the serf goes on from the log, wherever it lives now (a serf moving between runners answers 5xx meanwhile)
      let next = await post(`${b.url}/v1/serfs/${serf}/events`, { n: 3 })
      for (const deadline = Date.now() + 20_000; next.status !== 200 && Date.now() < deadline;) {
        expect(next.status, JSON.stringify(next.body)).toBeGreaterThanOrEqual(500)
        await new Promise((r) => setTimeout(r, 200))
        next = await post(`${b.url}/v1/serfs/${serf}/events`, { n: 3 })
      }
      expect(next.body.eve, JSON.stringify(next.body)).toBe(resent ? 4 : 3)
      const log = (await logOf(db)).filter((r) => r.serf === serf)
      expect(log.map((r) => JSON.parse(r.ev))).toEqual(
        resent ? [{ n: 1 }, { n: 2 }, { op: "sleep", ms: 4000 }, { n: 3 }] : [{ n: 1 }, { n: 2 }, { n: 3 }]
      )
      for (const r of [a, b]) {
        r.proc.kill("SIGTERM")
        expect(await r.exited).toBe(0)
      }
    })
  }, 120_000)

  it("a serf whose log was claimed elsewhere, with nobody serving it there, is refused 503 for a while and then starts again here", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const a = await startRunner("serf", db, ["--data", path.join(dir, "a"), ...testSerf])
      expect((await post(`${a.url}/v1/serfs/lost/events`, { n: 1 })).body.eve).toBe(1)
      // another runner claimed its log (a new epoch) and went away
      await Effect.runPromise(SqlClient.use((sql) => sql.unsafe(`UPDATE serf_epochs SET epoch = epoch + 1 WHERE serf = 'lost'`)).pipe(
        Effect.provide(Layer.fresh(clientLayer(db)))
      ))
      const fenced = await post(`${a.url}/v1/serfs/lost/events`, { n: 2 })
      expect(fenced.status).toBe(503)
      expect(fenced.body.error.tag).toBe("PierFenced")
      const t0 = Date.now()
      let again: Awaited<ReturnType<typeof post>> | undefined
      while (Date.now() - t0 < 30_000) {
        again = await post(`${a.url}/v1/serfs/lost/events`, { n: 3 })
        if (again.status === 200) break
        expect(again.status).toBe(503)
        await new Promise((r) => setTimeout(r, 200))
      }
      expect(again?.status).toBe(200)
      expect(again!.body.eve).toBe(2)
      expect((await logOf(db)).map((r) => JSON.parse(r.ev))).toEqual([{ n: 1 }, { n: 3 }])
      a.proc.kill("SIGTERM")
      expect(await a.exited).toBe(0)
    })
  })

  it("law 5 and failover: serfs that ignore their stdin's end are reaped by the runner restarted on its --data; a killed runner's serfs answer again elsewhere", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const args = (name: string) => ["--data", path.join(dir, name), ...testSerf]
      const a = await startRunner("serf", db, args("a"), { env: { TEST_SERF_KEEP: "1" } })
      const b = await startRunner("serf", db, args("b"))
      // serfs picked by where they live must stay there: no rebalancing under way
      await settled([a, b])
      // serfs on a, with some history
      const mine: Array<string> = []
      for (let i = 0; i < 40 && mine.length < 2; i++) {
        const r = await post(`${b.url}/v1/serfs/y${i}/events`, { n: i })
        expect(r.status).toBe(200)
        if (runnerOf(r) === `127.0.0.1:${a.runnerPort}`) mine.push(`y${i}`)
      }
      expect(mine).toHaveLength(2)
      const serfsOfA = childrenOf(a.proc.pid!)
      // they ignore their stdin's end: if the test fails before a runner reaps them, they go here
      onTestFinished(() => {
        for (const p of serfsOfA) {
          try {
            process.kill(p, "SIGKILL")
          } catch {}
        }
      })
      expect(serfsOfA.length).toBeGreaterThanOrEqual(2)
      await kill9(a)
      // its serfs answer again, through b
      for (const serf of mine) {
        const deadline = Date.now() + 30_000
        let r: Awaited<ReturnType<typeof post>> | undefined
        while (Date.now() < deadline) {
          r = await post(`${b.url}/v1/serfs/${serf}/events`, { n: 100 }).catch(() => undefined)
          if (r?.status === 200) break
          await new Promise((res) => setTimeout(res, 50))
        }
        expect(r?.status).toBe(200)
        expect(runnerOf(r!)).toBe(`127.0.0.1:${b.runnerPort}`)
      }
      // b's status document lists the serfs running on it, a's among them now
      const doc = Schema.decodeUnknownSync(RunnerStatus)((await request("GET", `${b.url}/v1/status`)).body)
      expect(doc).toMatchObject({ kind: "runner", role: "serf", runner: `127.0.0.1:${b.runnerPort}`, healthy: true })
      for (const serf of mine) expect(doc.serfs.find((x) => x.id === serf)?.status.state, JSON.stringify(doc.serfs.map((x) => [x.id, x.status.state]))).toBe("running")
      // these serfs ignore their stdin's end: still alive; a runner restarted on a's --data reaps them
      expect(serfsOfA.some((p) => isAlive(p))).toBe(true)
      const again = await startRunner("serf", db, args("a"), { runnerPort: a.runnerPort })
      await eventually(() => serfsOfA.every((p) => !isAlive(p)), 10_000, "the left-behind serfs to be reaped")
      for (const r of [again, b]) {
        r.proc.kill("SIGTERM")
        expect(await r.exited).toBe(0)
      }
    })
  }, 120_000)
})

describe("events taken by a runner that does not serve their serf", () => {
  it("go to the serf's runner without the cluster once an answer named it (liege-owner); a frozen, then a killed, owner: they go the cluster's way and are answered by the next, each logged once", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const a = await startRunner("serf", db, ["--data", path.join(dir, "a"), ...kv])
      const b = await startRunner("serf", db, ["--data", path.join(dir, "b"), ...kv])
      await settled([a, b])
      // a serf served by runner a, its events taken by runner b
      let serf = ""
      for (let i = 0; i < 50 && serf === ""; i++) {
        const r = await post(`${b.url}/v1/serfs/f${i}/events`, { op: "put", key: "first", value: i })
        expect(r.status).toBe(200)
        if (runnerOf(r) === `127.0.0.1:${a.runnerPort}`) serf = `f${i}`
      }
      expect(serf).not.toBe("")
      const forwards = async () => {
        const text = (await request("GET", `${a.url}/metrics`)).text
        return Number(/^liege_http_requests_total\{route="cluster_forward",status="200"\} (\d+)$/m.exec(text)?.[1] ?? 0)
      }
      const before = await forwards()
      const acked: Array<number> = []
      for (let i = 0; i < 20; i++) {
        const r = await post(`${b.url}/v1/serfs/${serf}/events`, { op: "put", key: `k${i}`, value: i })
        expect(r.status).toBe(200)
        expect(runnerOf(r)).toBe(`127.0.0.1:${a.runnerPort}`)
        expect(r.headers["liege-owner"]).toBe(a.url)
        acked.push(r.body.eve)
      }
      expect(await forwards()).toBeGreaterThan(before)
      // its runner frozen: what b takes for it goes the cluster's way, and is answered once the serf moved to b
      a.proc.kill("SIGSTOP")
      try {
        const deadline = Date.now() + 30_000
        let moved: Awaited<ReturnType<typeof post>> | undefined
        while (Date.now() < deadline) {
          moved = await post(`${b.url}/v1/serfs/${serf}/events`, { op: "put", key: "moved", value: 1 }, undefined, 15_000).catch(() => undefined)
          if (moved?.status === 200) break
          if (moved !== undefined) expect(moved.status, moved.text).toBeGreaterThanOrEqual(500)
          await new Promise((r) => setTimeout(r, 100))
        }
        expect(moved?.status).toBe(200)
        expect(runnerOf(moved!)).toBe(`127.0.0.1:${b.runnerPort}`)
        acked.push(moved!.body.eve)
      } finally {
        a.proc.kill("SIGCONT")
      }
      await kill9(a)
      for (let i = 0; i < 5; i++) {
        const r = await post(`${b.url}/v1/serfs/${serf}/events`, { op: "put", key: `after${i}`, value: i })
        expect(r.status).toBe(200)
        acked.push(r.body.eve)
      }
      const log = (await logOf(db)).filter((r) => r.serf === serf)
      expect(log.map((r) => r.eve)).toEqual(log.map((_, i) => i + 1))
      const keys = log.map((r) => (JSON.parse(r.ev) as { key: string }).key)
      expect(new Set(keys).size).toBe(keys.length)
      for (const eve of acked) expect(log.some((r) => r.eve === eve)).toBe(true)
      b.proc.kill("SIGTERM")
      expect(await b.exited).toBe(0)
    })
  }, 120_000)
})

describe("forwarding with a token", () => {
  it("runners started with --token forward to each other with it", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const token = ["--token", "sesame"]
      const auth = { authorization: "Bearer sesame" }
      const a = await startRunner("serf", db, ["--data", path.join(dir, "a"), ...token, ...kv])
      const b = await startRunner("serf", db, ["--data", path.join(dir, "b"), ...token, ...kv])
      // (the status document needs the token: no `settled`; some serf lands on a soon enough)
      let serf = ""
      for (let i = 0; i < 300 && serf === ""; i++) {
        const r = await post(`${b.url}/v1/serfs/t${i}/events`, { op: "put", key: "first", value: i }, auth)
        expect(r.status).toBe(200)
        if (runnerOf(r) === `127.0.0.1:${a.runnerPort}`) serf = `t${i}`
      }
      expect(serf).not.toBe("")
      expect((await post(`${b.url}/v1/serfs/${serf}/events`, { op: "put", key: "k", value: 1 })).status).toBe(401)
      for (let i = 0; i < 5; i++) {
        const r = await post(`${b.url}/v1/serfs/${serf}/events`, { op: "put", key: `k${i}`, value: i }, auth)
        expect(r.status).toBe(200)
        expect(runnerOf(r)).toBe(`127.0.0.1:${a.runnerPort}`)
      }
      const metrics = (await request("GET", `${a.url}/metrics`, undefined, auth)).text
      expect(metrics).toMatch(/^liege_http_requests_total\{route="cluster_forward",status="200"\} [1-9]/m)
      expect(metrics).not.toMatch(/route="cluster_forward",status="401"/)
      for (const r of [a, b]) {
        r.proc.kill("SIGTERM")
        expect(await r.exited).toBe(0)
      }
    })
  }, 60_000)
})

describe("a poke the cluster sends again", () => {
  it("is answered from the log with the first answer, not logged twice (its key was logged with it by a runner now gone)", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const layer = Layer.fresh(clientLayer(db))
      const r = await startRunner("serf", db, ["--data", path.join(dir, "r"), ...kv])
      // the mug of the serf's state after that event (another serf, same event)
      const { mug } = (await post(`${r.url}/v1/serfs/k0/events`, { op: "put", key: "a", value: 1 })).body
      // a runner that logged serf k1's event 1 under key K, then died before answering
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const log = yield* claim("k1")
        yield* log.append([{ eve: 1, wen: Date.now(), mug, ev: '{"op":"put","key":"a","value":1}', key: "K", fec: '[{"key":"a","old":null}]' }])
      })).pipe(Effect.provide(layer)))
      // the same request again, as the cluster re-sends it: through the cluster's own client
      const { Serf } = await import("../../src/cluster/protocol.ts")
      const reply = await Effect.runPromise(Effect.gen(function*() {
        const client = yield* Serf.client
        return yield* client("k1").Poke({ key: "K", ev: '{"op":"put","key":"a","value":1}' })
      }).pipe(Effect.provide(clusterClientLayer(db)), Effect.scoped))
      expect(reply).toMatchObject({ eve: 1, mug, effects: '[{"key":"a","old":null}]' })
      expect(reply.swapped).toBeUndefined()
      // a new key is a new event
      const next = await post(`${r.url}/v1/serfs/k1/events`, { op: "put", key: "b", value: 2 })
      expect(next.body.eve).toBe(2)
      expect((await logOf(db)).filter((row) => row.serf === "k1").map((row) => row.eve)).toEqual([1, 2])
      r.proc.kill("SIGTERM")
      expect(await r.exited).toBe(0)
    })
  }, 60_000)
})

describe("a serf's life on a runner", () => {
  it("an idle serf is saved, stopped and let go; its next event starts it again from its snapshot; a bad id is 400", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const data = path.join(dir, "r")
      const r = await startRunner("serf", db, ["--data", data, "--idle", "500ms", ...kv])
      expect((await post(`${r.url}/v1/serfs/bad.id/events`, { op: "put", key: "a", value: 1 })).status).toBe(400)
      expect((await post(`${r.url}/v1/serfs/${"x".repeat(65)}/events`, { op: "put", key: "a", value: 1 })).status).toBe(400)
      for (let i = 0; i < 3; i++) expect((await post(`${r.url}/v1/serfs/idle1/events`, { op: "put", key: `k${i}`, value: i })).status).toBe(200)
      const running = async () => Schema.decodeUnknownSync(RunnerStatus)((await request("GET", `${r.url}/v1/status`)).body).serfs
      expect((await running()).map((s) => s.id)).toEqual(["idle1"])
      const pid = (await running())[0]!.status.pid!
      // idle: saved (the kv serf's snapshot in DIR/ID), stopped, let go
      await eventually(() => fs.existsSync(path.join(data, "idle1", "kv-snapshot.json")) && !isAlive(pid), 20_000, "the idle serf to be saved and stopped")
      let left = await running()
      for (let i = 0; i < 100 && left.length > 0; i++) {
        await new Promise((res) => setTimeout(res, 50))
        left = await running()
      }
      expect(left).toEqual([])
      // the next event starts it again, from its snapshot: nothing to replay
      const next = await post(`${r.url}/v1/serfs/idle1/events`, { op: "put", key: "k3", value: 3 })
      expect(next.body.eve).toBe(4)
      expect((await request("GET", `${r.url}/v1/serfs/idle1/peek/size`)).body).toEqual({ dat: 4 })
      const doc = await running()
      expect(doc[0]?.status.lastSnapshotEve).toBe(3)
      r.proc.kill("SIGTERM")
      expect(await r.exited).toBe(0)
    })
  }, 60_000)

  it("a stuck serf in the cluster: 422 Poison naming the limit for its event, 504 Timeout for its peek, and it goes on", async () => {
    await inTemp("liege-cluster-", async (dir) => {
      const db = await pg.createDb()
      const r = await startRunner("serf", db, [
        "--data", path.join(dir, "r"), "--work-timeout", "400ms", "--stop-grace", "200ms", "--", "python3", fixture("hang_serf.py")
      ])
      expect((await post(`${r.url}/v1/serfs/h1/events`, { n: 1 })).body).toMatchObject({ eve: 1 })
      const stuck = await post(`${r.url}/v1/serfs/h1/events`, { hang: true })
      expect(stuck.status).toBe(422)
      expect(stuck.body).toEqual({ error: { tag: "Poison", message: expect.stringContaining("within 400 ms (workTimeout)") } })
      const peek = await request("GET", `${r.url}/v1/serfs/h1/peek/hang`)
      expect(peek.status).toBe(504)
      expect(peek.body).toMatchObject({ error: { tag: "Timeout", writ: "peek", ms: 400 } })
      expect((await post(`${r.url}/v1/serfs/h1/events`, { n: 2 })).body).toMatchObject({ eve: 2, effects: [{ sum: 3 }] })
      expect((await logOf(db)).filter((row) => row.serf === "h1").map((row) => JSON.parse(row.ev))).toEqual([{ n: 1 }, { n: 2 }])
      r.proc.kill("SIGTERM")
      expect(await r.exited).toBe(0)
    })
  }, 60_000)
})
