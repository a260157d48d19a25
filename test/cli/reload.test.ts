/**
 * Change without downtime through `liege pool` (SPEC §5, §8): `POST
 * /v1/reload` and SIGHUP replace every worker under load with no failed
 * request; a bad deploy answers `500 ReloadFailed` and the old workers go on
 * serving; `--workers MIN..MAX` grows while requests wait and says so in
 * `/metrics`; `--queue-timeout`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { healthy, metric, post, request, serve } from "../support/http.ts"
import { eventually, fixture, node, root } from "../support/procs.ts"
import { inTemp } from "../support/serfs.ts"

const good = `import ${JSON.stringify(path.join(root, "examples/pool-worker.ts"))}\n`

/** HTTP callers posting echo jobs until stopped: the failures, and the times of the answers. */
const load = (url: string, callers: number) => {
  const state = { stop: false, ok: 0, failed: [] as Array<string>, at: [] as Array<number> }
  const loops = Array.from({ length: callers }, async (_, i) => {
    for (let n = 0; !state.stop; n++) {
      const r = await post(`${url}/v1/jobs`, { op: "echo", value: [i, n] }).catch((e: Error) => ({ status: 0, text: e.message }))
      state.at.push(performance.now())
      if (r.status === 200) state.ok++
      else state.failed.push(`${r.status} ${r.text}`)
    }
  })
  return { state, stop: async () => { state.stop = true; await Promise.all(loops) } }
}

const longestGap = (at: ReadonlyArray<number>) => {
  let gap = 0
  for (let i = 1; i < at.length; i++) gap = Math.max(gap, at[i]! - at[i - 1]!)
  return Math.round(gap)
}

const generationOf = async (url: string) => (await post(`${url}/v1/jobs`, { op: "env" })).body.ok.generation

describe("liege pool: reload, elastic, limits", () => {
  it("POST /v1/reload and SIGHUP under load: no failed request; a bad deploy is refused while the old workers serve", async () => {
    await inTemp("liege-reload-cli-", async (dir) => {
      const script = path.join(dir, "worker.mjs")
      fs.writeFileSync(script, good)
      const s = await serve(["pool", "--workers", "2", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", "--", node, script])
      await healthy(s.url)
      expect(await generationOf(s.url)).toBe("1")

      const l = load(s.url, 6)
      await eventually(() => l.state.ok > 50, 10_000, "some answers")
      const from = l.state.at.length
      const reloaded = await post(`${s.url}/v1/reload`, {})
      const gap = longestGap(l.state.at.slice(from))
      await l.stop()
      expect(reloaded).toMatchObject({ status: 200, body: { reloaded: 2, generation: 2 } })
      expect(l.state.failed).toEqual([])
      console.log(`reload over HTTP under load: ${l.state.ok} answers, 0 failed, longest gap between answers during the reload ${gap} ms`)
      expect(await generationOf(s.url)).toBe("2")

      // SIGHUP does the same
      s.proc.kill("SIGHUP")
      await eventually(() => s.stderr().includes("SIGHUP: reloaded"), 20_000, "the SIGHUP reload")
      expect(await generationOf(s.url)).toBe("3")

      // a bad deploy: the new worker cannot start; the old ones go on
      fs.writeFileSync(script, "process.exit(4)\n")
      const refused = await post(`${s.url}/v1/reload`, {})
      expect(refused.status).toBe(500)
      expect(refused.body.error.tag).toBe("ReloadFailed")
      expect(refused.body.error.message).toContain("code 4")
      expect(refused.body.error.reason).toContain("the others go on serving")
      for (let i = 0; i < 4; i++) expect(await generationOf(s.url)).toBe("3")
      expect((await request("GET", `${s.url}/healthz`)).status).toBe(200)
      await metric(s.url, 'liege_pool_reloads_total{outcome="failed"} 1')
      await metric(s.url, 'liege_pool_reloads_total{outcome="ok"} 2')
      await metric(s.url, "liege_pool_generation 4")

      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  }, 60_000)

  it("--workers 1..3 grows while requests wait and lets idle workers go; --queue-timeout answers Busy", async () => {
    await inTemp("liege-elastic-cli-", async (dir) => {
      const s = await serve([
        "pool", "--workers", "1..3", "--idle-ttl", "500ms", "--queue-timeout", "5s", "--state", path.join(dir, "s.db"),
        "--listen", "127.0.0.1:0", "--", node, fixture("faulty-worker.ts")
      ])
      await healthy(s.url)
      await metric(s.url, "liege_pool_workers 1")
      await metric(s.url, "liege_pool_workers_max 3")
      const sleeps = Array.from({ length: 9 }, () => post(`${s.url}/v1/jobs`, { op: "sleep", ms: 600 }))
      await metric(s.url, "liege_pool_workers 3")
      for (const r of await Promise.all(sleeps)) expect(r.status).toBe(200)
      await metric(s.url, "liege_pool_scale_ups_total 2")
      await metric(s.url, "liege_pool_scale_downs_total 2")
      await metric(s.url, "liege_pool_workers 1")
      const status = (await request("GET", `${s.url}/v1/status`)).body
      expect(status.size).toMatchObject({ min: 1, max: 3, running: 1, up: 2, down: 2 })
      expect(status.restarts.total).toBe(0)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
    await inTemp("liege-queue-cli-", async (dir) => {
      const s = await serve([
        "pool", "--workers", "1", "--queue-timeout", "200ms", "--state", path.join(dir, "s.db"),
        "--listen", "127.0.0.1:0", "--", node, fixture("faulty-worker.ts")
      ])
      await healthy(s.url)
      const slow = post(`${s.url}/v1/jobs`, { op: "sleep", ms: 800 })
      await metric(s.url, "liege_pool_in_flight 1")
      const busy = await post(`${s.url}/v1/jobs`, { op: "echo", value: 1 })
      expect(busy.status).toBe(503)
      expect(busy.body.error).toMatchObject({ tag: "Busy" })
      expect(busy.body.error.waitedMs).toBeGreaterThanOrEqual(200)
      expect(busy.body.error.message).toContain("queueTimeout")
      expect((await slow).status).toBe(200)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  }, 60_000)
})
