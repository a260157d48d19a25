import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import * as http from "node:http"
import * as fs from "node:fs"
import * as path from "node:path"
import { healthy, metric, post, request, serve } from "../support/http.ts"
import { fixture, liege, node, root } from "../support/procs.ts"
import { inTemp, tempDir } from "../support/serfs.ts"
import { badFlags } from "../support/flags.ts"
import { lines } from "../support/live.ts"

const worker = ["--", node, path.join(root, "examples/pool-worker.ts")]
const faulty = ["--", node, fixture("faulty-worker.ts")]


describe("liege pool", () => {
  it("direct jobs: ok 200, Application 422, WorkerDied 502, Timeout 504, Busy 503; bad bodies 400", async () => {
    await inTemp("liege-pool-cli-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--max-queue", "0", "--exec-timeout", "300ms", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...worker])
      await healthy(s.url)
      const jobs = `${s.url}/v1/jobs`
      expect(await post(jobs, { op: "add", a: 2, b: 3 })).toMatchObject({ status: 200, body: { ok: 5 } })
      const app = await post(jobs, { op: "fail", code: "E_X", message: "no" })
      expect(app.status).toBe(422)
      expect(app.body.error).toMatchObject({ tag: "Application", code: "E_X", message: "no" })
      const died = await post(jobs, { op: "exit", code: 9 })
      expect(died.status).toBe(502)
      expect(died.body.error.tag).toBe("WorkerDied")
      await healthy(s.url)
      const timeout = await post(jobs, { op: "sleep", ms: 5000 })
      expect(timeout.status).toBe(504)
      expect(timeout.body.error.tag).toBe("Timeout")
      await healthy(s.url)
      const slow = post(jobs, { op: "sleep", ms: 200 })
      await metric(s.url, "liege_pool_in_flight 1")
      const busy = await post(jobs, { op: "echo", value: 1 })
      expect(busy.status).toBe(503)
      expect(busy.body.error.tag).toBe("Busy")
      expect((await slow).status).toBe(200)
      expect((await request("POST", jobs, "")).status).toBe(400)
      expect((await request("POST", jobs, "[1,")).status).toBe(400)
      expect((await request("GET", `${s.url}/v1/jobs/12345`)).status).toBe(404)
      const metrics = await request("GET", `${s.url}/metrics`)
      expect(metrics.text).toContain('liege_pool_answers_total{outcome="Timeout"} 1')
      expect(metrics.text).toContain("liege_pool_queue_depth 0")
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
      expect(lines(s.stdout())).toEqual([`listening on ${s.url}`])
    })
  })

  it("session jobs are stored (202), run in order one at a time, and can be read back", async () => {
    await inTemp("liege-pool-cli-", async (dir) => {
      const s = await serve(["pool", "--workers", "3", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...faulty])
      await healthy(s.url)
      const ids: Array<number> = []
      for (let i = 0; i < 6; i++) {
        const r = await post(`${s.url}/v1/jobs?session=${i % 2 === 0 ? "even" : "odd"}`, { op: "sleep", ms: 30 })
        expect(r.status).toBe(202)
        ids.push(r.body.id)
      }
      const failing = await post(`${s.url}/v1/jobs?session=odd`, { op: "fail" })
      for (const id of [...ids, failing.body.id]) {
        for (;;) {
          const r = await request("GET", `${s.url}/v1/jobs/${id}`)
          if (r.body.state === "done" || r.body.state === "failed") break
          await new Promise((r) => setTimeout(r, 10))
        }
      }
      const jobs = await Promise.all(ids.map(async (id) => (await request("GET", `${s.url}/v1/jobs/${id}`)).body))
      for (const j of jobs) expect(j).toMatchObject({ state: "done", ok: { slept: 30, inflight: 1 } })
      expect(jobs.map((j) => j.session)).toEqual(["even", "odd", "even", "odd", "even", "odd"])
      const f = (await request("GET", `${s.url}/v1/jobs/${failing.body.id}`)).body
      expect(f).toMatchObject({ session: "odd", state: "failed", error: { tag: "Application", code: "nope" } })
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  })

  it("/healthz is 503 until a worker is ready; --token guards the rest", async () => {
    await inTemp("liege-pool-cli-", async (dir) => {
      const s = await serve(
        ["pool", "--workers", "1", "--token", "t0k", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...faulty],
        { FAULTY_READY_DELAY: "700" }
      )
      expect((await request("GET", `${s.url}/healthz`)).status).toBe(503)
      await healthy(s.url)
      expect((await post(`${s.url}/v1/jobs`, { op: "echo", value: 1 })).status).toBe(401)
      expect((await post(`${s.url}/v1/jobs`, { op: "echo", value: 1 }, { authorization: "Bearer t0k" })).status).toBe(200)
      s.proc.kill("SIGINT")
      expect(await s.exited).toBe(0)
    })
  })

  it("a client that goes away cancels its request; the worker lets go and serves the next", async () => {
    await inTemp("liege-pool-cli-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...faulty])
      await healthy(s.url)
      const first = await post(`${s.url}/v1/jobs`, { op: "echo", value: 0 })
      const req = http.request(`${s.url}/v1/jobs`, { method: "POST", agent: false })
      req.on("error", () => {})
      req.end(JSON.stringify({ op: "sleep", ms: 10_000 }))
      await metric(s.url, "liege_pool_in_flight 1")
      req.destroy()
      await metric(s.url, "liege_pool_in_flight 0")
      const t0 = Date.now()
      const next = await post(`${s.url}/v1/jobs`, { op: "echo", value: 1 })
      expect(Date.now() - t0).toBeLessThan(2000)
      expect(next.body.ok).toMatchObject({ pid: first.body.ok.pid, inflight: 1 })
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  })

  it("SIGTERM: requests in flight are answered within --drain, then liege exits 0", async () => {
    await inTemp("liege-pool-cli-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--drain", "5s", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...worker])
      await healthy(s.url)
      const inFlight = post(`${s.url}/v1/jobs`, { op: "sleep", ms: 300 })
      await metric(s.url, "liege_pool_in_flight 1")
      s.proc.kill("SIGTERM")
      expect(await inFlight).toMatchObject({ status: 200, body: { ok: { slept: 300 } } })
      expect(await s.exited).toBe(0)
    })
  })

  it("a state file held by another liege: exit 1 with one line, before it binds or spawns anything", async () => {
    await inTemp("liege-pool-cli-", async (dir) => {
      const state = path.join(dir, "s.db")
      const first = await serve(["pool", "--workers", "1", "--state", state, "--listen", "127.0.0.1:0", ...worker])
      await healthy(first.url)
      // the file is made, and locked, by the first session job
      expect(fs.existsSync(state)).toBe(false)
      expect((await post(`${first.url}/v1/jobs?session=s`, { n: 1 })).status).toBe(202)
      expect(fs.existsSync(state)).toBe(true)
      const marker = path.join(dir, "spawned")
      const second = await liege(["pool", "--workers", "1", "--state", state, "--listen", "127.0.0.1:0", "--", "sh", "-c", `touch ${marker}`])
      expect(second.status).toBe(1)
      expect(lines(second.stderr)).toEqual([expect.stringMatching(/^liege: the state file .*s\.db is in use by another process/)])
      expect(second.stdout).toBe("")
      expect(fs.existsSync(marker)).toBe(false)
      first.proc.kill("SIGTERM")
      expect(await first.exited).toBe(0)
    })
  })

  badFlags([
      ["a bad --workers", ["pool", "--workers", "0", ...worker]],
      ["a backwards --workers range", ["pool", "--workers", "3..1", ...worker]],
      ["a --workers range from 0", ["pool", "--workers", "0..2", ...worker]],
      ["a bad --queue-timeout", ["pool", "--queue-timeout", "soon", ...worker]],
      ["a bad --exec-timeout", ["pool", "--exec-timeout", "later", ...worker]],
      ["a bad --listen", ["pool", "--listen", "127.0.0.1", ...worker]],
      ["a bad --max-queue", ["pool", "--max-queue", "-1", ...worker]],
      ["no command", ["pool", "--workers", "2"]]
  ])

  it("law 6: kill -9 of liege, then a restart: every stored job reaches exactly one final state", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 4, max: 12 }), async (killAfterMs, n) => {
        const dir = tempDir("liege-pool-kill-")
        const state = path.join(dir, "s.db")
        try {
          const args = ["pool", "--workers", "2", "--state", state, "--listen", "127.0.0.1:0", ...faulty]
          const s = await serve(args)
          const ids: Array<number> = []
          for (let i = 0; i < n; i++) {
            const r = await post(`${s.url}/v1/jobs?session=s${i % 3}`, { op: "sleep", ms: 40 })
            expect(r.status).toBe(202)
            ids.push(r.body.id)
          }
          await new Promise((r) => setTimeout(r, killAfterMs))
          s.proc.kill("SIGKILL")
          await s.exited
          const again = await serve(args)
          for (const id of ids) {
            for (let i = 0;; i++) {
              const r = await request("GET", `${again.url}/v1/jobs/${id}`)
              expect(r.status).toBe(200)
              if (r.body.state === "done") {
                expect(r.body.ok).toMatchObject({ slept: 40 })
                break
              }
              expect(["queued", "running"]).toContain(r.body.state)
              if (i > 2000) throw new Error(`job ${id} stuck in ${r.body.state}`)
              await new Promise((r) => setTimeout(r, 10))
            }
          }
          again.proc.kill("SIGTERM")
          expect(await again.exited).toBe(0)
        } finally {
          fs.rmSync(dir, { recursive: true, force: true })
        }
      }),
      { numRuns: 4, endOnFailure: true }
    )
  }, 120_000)

  it("the token from LIEGE_TOKEN (kept out of ps); --help says so, and says each default once", async () => {
    await inTemp("liege-pool-cli-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...worker], {
        LIEGE_TOKEN: "from-env"
      })
      expect(fs.readFileSync(`/proc/${s.proc.pid}/cmdline`, "latin1")).not.toContain("from-env")
      await healthy(s.url)
      expect((await request("GET", `${s.url}/v1/status`)).status).toBe(401)
      expect((await request("GET", `${s.url}/v1/status`, undefined, { authorization: "Bearer from-env" })).status).toBe(200)
      expect((await request("GET", `${s.url}/readyz`)).status).toBe(200)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
    const help = await liege(["pool", "--help"])
    expect(help.status).toBe(0)
    expect(help.stdout).toMatch(/--token T +require Authorization: Bearer T on every route but the probes \(or \$LIEGE_TOKEN\)\n/)
    expect(help.stdout).toMatch(/--workers N\|MIN\.\.MAX +slots; a range MIN\.\.MAX makes the pool elastic .*\(default: the CPU count, \d+ here\)\n/)
    for (const line of help.stdout.split("\n")) expect(line.match(/\(default/g)?.length ?? 0).toBeLessThanOrEqual(1)
  })
})
