/**
 * SPEC §8: liege logs to stderr, and only to stderr, in the format asked
 * for; stdout holds the listening line and nothing else — through
 * recycling, worker deaths, restarts, a failed pool and its recovery,
 * poison events and shutdown.
 */
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { healthy, post, serve } from "../support/http.ts"
import { eventually, fixture, node } from "../support/procs.ts"
import { inTemp } from "../support/serfs.ts"
import { lines } from "../support/live.ts"


describe("stdout holds only the listening line", () => {
  it("liege pool --log-format json: recycling, a death while serving, PoolFailed, recovery, shutdown", async () => {
    await inTemp("liege-stdout-", async (dir) => {
      const s = await serve([
        "pool", "--workers", "1", "--max-jobs", "2", "--max-restarts", "0", "--restart-window", "1s",
        "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", "--log-format", "json",
        "--", node, fixture("faulty-worker.ts")
      ])
      await healthy(s.url)
      expect((await post(`${s.url}/v1/jobs`, { op: "echo", value: 1 })).status).toBe(200)
      expect((await post(`${s.url}/v1/jobs`, { op: "echo", value: 2 })).status).toBe(200)
      await eventually(() => s.stderr().includes("recycling"), 10_000, "the recycling log line")
      await healthy(s.url)
      expect((await post(`${s.url}/v1/jobs`, { op: "crash-before" })).status).toBe(502)
      await healthy(s.url)
      // answers, then dies with nothing in flight: a failure, and with --max-restarts 0 the pool fails
      expect((await post(`${s.url}/v1/jobs`, { op: "crash-after" })).status).toBe(200)
      await eventually(() => s.stderr().includes("pool has failed"), 10_000, `the PoolFailed line in ${s.stderr()}`)
      await healthy(s.url) // after the cool-down, one worker becomes ready: healthy again
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
      expect(s.stdout()).toBe(`listening on ${s.url}\n`)
      const logged = lines(s.stderr())
      for (const line of logged) expect(() => JSON.parse(line), line).not.toThrow()
      const messages = logged.map((l) => JSON.parse(l).message as string)
      expect(messages.some((m) => m.includes("recycling"))).toBe(true)
      expect(messages.some((m) => m.includes("stopping"))).toBe(true)
    })
  })

  it("liege serf --log-format pretty: slog lines, a poison event, restarts, snapshot, shutdown", async () => {
    await inTemp("liege-stdout-", async (dir) => {
      const s = await serve([
        "serf", "--pier", path.join(dir, "pier"), "--listen", "127.0.0.1:0", "--log-format", "pretty",
        "--", node, fixture("poison-serf.ts")
      ])
      await healthy(s.url)
      expect((await post(`${s.url}/v1/events`, { n: 1 })).status).toBe(200)
      const poison = await post(`${s.url}/v1/events`, { poison: true })
      expect(poison.status).toBe(422)
      expect(poison.body.error.tag).toBe("Poison")
      expect((await post(`${s.url}/v1/events`, { n: 2 })).status).toBe(200)
      expect((await post(`${s.url}/v1/snapshot`, {})).status).toBe(200)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
      expect(s.stdout()).toBe(`listening on ${s.url}\n`)
      const logged = lines(s.stderr())
      expect(logged.some((l) => /event \d+: \+2\b/.test(l))).toBe(true)
      for (const line of logged) expect(line.startsWith("{"), line).toBe(false)
    })
  })
})
