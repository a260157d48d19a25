import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { Effect, Logger, Stream } from "effect"
import { start } from "../../src/serf/host.ts"
import { healthy, post, request, serve } from "../support/http.ts"
import { readLog } from "../support/log.ts"
import { eventually, liege, node, root } from "../support/procs.ts"
import { inTemp, tempDir, testSerf } from "../support/serfs.ts"
import { badFlags } from "../support/flags.ts"
import { lines } from "../support/live.ts"

const kv = ["--", node, path.join(root, "examples/kv-serf.ts")]

describe("liege serf", () => {
  it("serves events, peeks, snapshots and packs; SIGTERM drains, saves and exits 0", async () => {
    await inTemp("liege-cli-", async (dir) => {
      const s = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", ...kv])
      await healthy(s.url)
      const put = await post(`${s.url}/v1/events`, { op: "put", key: "k", value: [1, "two"] })
      expect(put.status).toBe(200)
      expect(put.body).toMatchObject({ eve: 1, effects: [{ key: "k", old: null }] })
      expect(typeof put.body.mug).toBe("number")
      const bail = await post(`${s.url}/v1/events`, { op: "nope" })
      expect(bail.status).toBe(422)
      expect(bail.body.error.tag).toBe("Bail")
      expect(bail.body.error.goofs[0].mote).toBe("TypeError")
      const swap = await post(`${s.url}/v1/events`, { op: "crash" })
      expect(swap.body).toMatchObject({ eve: 2, swapped: { op: "crashed" } })
      expect((await request("GET", `${s.url}/v1/peek/get/k`)).body).toEqual({ dat: [1, "two"] })
      expect((await request("GET", `${s.url}/v1/peek/get/missing`)).body).toEqual({ dat: null })
      expect((await request("POST", `${s.url}/v1/snapshot`)).body).toEqual({ eve: 2 })
      expect((await request("POST", `${s.url}/v1/pack`)).body).toEqual({ eve: 2 })
      const metrics = await request("GET", `${s.url}/metrics`)
      expect(metrics.text).toContain("liege_serf_events_total 2")
      expect(metrics.text).toContain("# TYPE liege_serf_commit_batch_events histogram")
      expect((await request("POST", `${s.url}/v1/events`, "")).status).toBe(400)
      expect((await request("POST", `${s.url}/v1/events`, "{nope")).status).toBe(400)
      expect((await request("GET", `${s.url}/v1/elsewhere`)).status).toBe(404)
      await post(`${s.url}/v1/events`, { op: "put", key: "after", value: "snapshot" })
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
      const snap = JSON.parse(fs.readFileSync(path.join(dir, "kv-snapshot.json"), "utf8"))
      expect(snap.eve).toBe(3) // SIGTERM saved at the last event
      expect(lines(s.stdout())).toEqual([`listening on ${s.url}`])
    })
  })

  it("--token guards every route but /healthz; --max-body answers 413", async () => {
    await inTemp("liege-cli-", async (dir) => {
      const s = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", "--token", "s3cret", "--max-body", "64", ...kv])
      await healthy(s.url)
      expect((await post(`${s.url}/v1/events`, { op: "put", key: "a", value: 1 })).status).toBe(401)
      expect((await request("GET", `${s.url}/metrics`)).status).toBe(401)
      const auth = { authorization: "Bearer s3cret" }
      expect((await post(`${s.url}/v1/events`, { op: "put", key: "a", value: 1 }, auth)).status).toBe(200)
      expect((await post(`${s.url}/v1/events`, { op: "put", key: "a", value: "x".repeat(100) }, auth)).status).toBe(413)
      s.proc.kill("SIGINT")
      expect(await s.exited).toBe(0)
    })
  })

  it("--boot plays the boot events into a fresh pier", async () => {
    const dir = tempDir("liege-cli-")
    const boot = path.join(dir, "boot.json")
    fs.writeFileSync(boot, JSON.stringify([{ wen: 1, ev: { op: "put", key: "booted", value: "yes" } }]))
    try {
      const s = await serve(["serf", "--pier", path.join(dir, "pier"), "--listen", "127.0.0.1:0", "--boot", boot, ...kv])
      await healthy(s.url)
      expect((await request("GET", `${s.url}/v1/peek/get/booted`)).body).toEqual({ dat: "yes" })
      expect((await post(`${s.url}/v1/events`, { op: "del", key: "booted" })).body.eve).toBe(2)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a replay that diverges from the log exits 3 with one ReplayDiverged line", async () => {
    await inTemp("liege-cli-", async (dir) => {
      const ts = ["--", node, ...testSerf().args]
      const s = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", ...ts])
      await healthy(s.url)
      for (let n = 1; n <= 3; n++) await post(`${s.url}/v1/events`, { n })
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
      const { DatabaseSync } = await import("node:sqlite")
      const db = new DatabaseSync(path.join(dir, "pier.db"))
      db.exec("UPDATE events SET mug = 7 WHERE eve = 3")
      db.close()
      const r = await liege(["serf", "--pier", dir, "--listen", "127.0.0.1:0", ...ts])
      expect(r.status).toBe(3)
      const last = lines(r.stderr).at(-1)
      expect(last).toMatch(/^ReplayDiverged: event 3: logged mug 7, serf mug \d+$/)
    })
  })

  it("a serf that keeps failing: liege gives up with exit 1", async () => {
    await inTemp("liege-cli-", async (dir) => {
      const r = await liege(["serf", "--pier", dir, "--listen", "127.0.0.1:0", "--max-restarts", "1", "--boot-timeout", "200ms", "--stop-grace", "100ms", "--", "sh", "-c", "exit 1"])
      expect(r.status).toBe(1)
      expect(lines(r.stderr).at(-1)).toMatch(/^liege: .*giving up/)
    })
  })

  it("a client that hangs up on a peek does not cost a serf restart", async () => {
    await inTemp("liege-cli-", async (dir) => {
      const s = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", "--", node, ...testSerf().args])
      await healthy(s.url)
      const req = http.request(`${s.url}/v1/peek/sleep/400`, { agent: false })
      req.on("error", () => {})
      req.end()
      await eventually(() => s.stderr().includes("peek sleeping"), 10_000, "the serf to take the peek")
      req.destroy()
      expect((await post(`${s.url}/v1/events`, { n: 2 })).status).toBe(200)
      expect((await request("GET", `${s.url}/metrics`)).text).toContain("liege_serf_restarts_total 0")
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  })

  it("SIGTERM with the serf stuck on an event: the event is refused, not logged, and liege exits 0", async () => {
    await inTemp("liege-cli-", async (dir) => {
      const ts = ["--", node, ...testSerf().args]
      const s = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", "--drain", "300ms", "--stop-grace", "300ms", ...ts])
      await healthy(s.url)
      expect((await post(`${s.url}/v1/events`, { n: 1 })).status).toBe(200)
      const stuck = post(`${s.url}/v1/events`, { op: "sleep", ms: 60_000 })
      await eventually(() => s.stderr().includes("event sleeping"), 10_000, "the serf to take the event")
      const t0 = Date.now()
      s.proc.kill("SIGTERM")
      const answer = await stuck
      expect(answer.status).toBe(503)
      expect(answer.body.error.tag).toBe("ShuttingDown")
      expect(await s.exited).toBe(0)
      expect(Date.now() - t0).toBeLessThan(10_000)
      expect(readLog(dir).map((r) => r.ev)).toEqual([{ n: 1 }])
    })
  })

  it("the serf gets exactly the event text that is logged (no divergence on replay)", async () => {
    await inTemp("liege-cli-", async (dir) => {
      const ts = ["--", node, ...testSerf().args]
      const first = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", ...ts])
      await healthy(first.url)
      // 1e400 is Infinity to JSON.parse and null to JSON.stringify: only the text itself round-trips
      // (the test serf counts an n it reads as Infinity as 1000, a null as nothing)
      expect((await request("POST", `${first.url}/v1/events`, '{"n":1e400}')).status).toBe(200)
      first.proc.kill("SIGTERM")
      expect(await first.exited).toBe(0)
      fs.rmSync(path.join(dir, "test-serf.json"), { force: true }) // no snapshot: a full replay
      const again = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", ...ts])
      await healthy(again.url)
      expect((await request("GET", `${again.url}/v1/peek/total`)).body).toEqual({ dat: 1000 })
      again.proc.kill("SIGTERM")
      expect(await again.exited).toBe(0)
    })
  })

  it("a pier held by another liege: exit 1 with one line, before it binds or spawns anything", async () => {
    await inTemp("liege-cli-", async (dir) => {
      const first = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", ...kv])
      const second = await liege(["serf", "--pier", dir, "--listen", "127.0.0.1:0", ...kv])
      expect(second.status).toBe(1)
      // the lock comes first: one line, no listening line, nothing spawned
      expect(lines(second.stderr)).toEqual([expect.stringMatching(/^liege: pier .* is locked/)])
      expect(second.stdout).toBe("")
      first.proc.kill("SIGTERM")
      expect(await first.exited).toBe(0)
    })
  })

  badFlags([
      ["no --pier", ["serf", ...kv]],
      ["a bad --listen", ["serf", "--pier", "/tmp/x", "--listen", "nowhere", ...kv]],
      ["a bad --codec", ["serf", "--pier", "/tmp/x", "--codec", "xml", ...kv]],
      ["a bad --max-in-flight", ["serf", "--pier", "/tmp/x", "--max-in-flight", "0", ...kv]],
      ["a bad --stop-grace", ["serf", "--pier", "/tmp/x", "--stop-grace", "soon", ...kv]],
      ["a missing --boot file", ["serf", "--pier", "/tmp/liege-never", "--boot", "/does/not/exist.json", ...kv]],
      ["no command", ["serf", "--pier", "/tmp/x"]]
  ], () => expect(fs.existsSync("/tmp/liege-never")).toBe(false))

  it("law 4: kill -9 of liege under load, then a restart: no acknowledged event is lost", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 16 }), async (killAfter, clients) => {
        await inTemp("liege-kill-", async (dir) => {
          const ts = ["--", node, ...testSerf().args]
          const s = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", "--max-in-flight", "16", ...ts])
          await healthy(s.url)
          const acked: Array<{ eve: number; mug: number; n: number }> = []
          let stop = false
          let next = 1
          const client = async () => {
            while (!stop) {
              const n = next++
              const r = await post(`${s.url}/v1/events`, { n }).catch(() => undefined)
              if (r === undefined) return
              if (r.status === 200) acked.push({ eve: r.body.eve, mug: r.body.mug, n })
              if (acked.length >= killAfter && !stop) {
                stop = true
                s.proc.kill("SIGKILL")
              }
            }
          }
          await Promise.all(Array.from({ length: clients }, client))
          await s.exited
          // the restarted liege reaps or finds gone the old serf, replays, and serves
          const again = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", ...ts])
          await healthy(again.url)
          again.proc.kill("SIGTERM")
          expect(await again.exited).toBe(0)
          const rows = readLog(dir)
          const byEve = new Map(rows.map((r) => [r.eve, r]))
          for (const a of acked) {
            expect(byEve.get(a.eve)?.mug).toBe(a.mug)
            expect(byEve.get(a.eve)?.ev).toEqual({ n: a.n })
          }
          const fresh = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
            const serf = yield* start(testSerf())
            return yield* serf.replay(Stream.fromIterable(rows.map((r) => ({ wen: r.wen, ev: r.ev }))))
          })).pipe(Effect.provide(Logger.layer([]))))
          expect(fresh).toMatchObject({ _tag: "Done", eve: rows.length, mug: rows.at(-1)!.mug })
        })
      }),
      { numRuns: 4, endOnFailure: true }
    )
  }, 120_000)
})
