/**
 * Alive is not well (SPEC §1, §3, §8), from outside, as an orchestrator
 * and a load balancer see liege: a stuck serf is answered (422 Poison, 504
 * Timeout) and replaced while `/livez` stays 200; `/readyz` says why it is
 * not ready (a replay's progress, a failed pool's next try); a draining
 * server keeps listening and answers 503; workers that die while liege
 * stops are not restarts; every worker liege kills is logged with its
 * reason; SIGHUP reloads a server's workers and never kills liege.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { healthy, post, request, serve } from "../support/http.ts"
import { eventually, fixture, liege, node, root } from "../support/procs.ts"
import { inTemp, testSerf } from "../support/serfs.ts"

const hangSerf = ["--", "python3", fixture("hang_serf.py")]
const faulty = ["--", node, fixture("faulty-worker.ts")]
const poolWorker = ["--", node, path.join(root, "examples/pool-worker.ts")]
const get = (url: string) => request("GET", url)

/** Waits until a request is running on a worker of the pool at `url`. */
const waitInFlight = async (url: string) => {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const doc = (await get(`${url}/v1/status`)).body as { workers: Array<{ inFlight: number }> }
    if (doc.workers.some((w) => w.inFlight > 0)) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error("no request reached a worker")
}

/** The JSON log lines of a server's stderr, as objects. */
const logLines = (stderr: string): Array<{ message: string; level: string }> =>
  stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => {
    const r = JSON.parse(l) as { message: unknown; level: string }
    return { message: Array.isArray(r.message) ? r.message.join(" ") : String(r.message), level: r.level }
  })

describe("alive is not well", () => {
  it("liege serf: a stuck event is 422 Poison naming the limit, a stuck peek 504 Timeout; /livez stays 200 and the rest is answered", async () => {
    await inTemp("liege-alive-", async (dir) => {
      const s = await serve([
        "serf", "--pier", dir, "--listen", "127.0.0.1:0", "--log-format", "json",
        "--work-timeout", "400ms", "--stop-grace", "200ms", "--max-restarts", "1", ...hangSerf
      ])
      await healthy(s.url)
      expect((await post(`${s.url}/v1/events`, { n: 1 })).body).toMatchObject({ eve: 1 })
      const started = Date.now()
      const stuck = post(`${s.url}/v1/events`, { hang: true })
      const behind = post(`${s.url}/v1/events`, { n: 2 })
      // while the serf is stuck, liege's own loop answers
      await eventually(() => s.stderr().includes("hanging"), 10_000, "the serf to hang")
      expect((await get(`${s.url}/livez`)).status).toBe(200)
      const poison = await stuck
      const ms = Date.now() - started
      expect(poison.status).toBe(422)
      expect(poison.body).toEqual({
        error: {
          tag: "Poison",
          message: "the serf did not answer this event within 400 ms (workTimeout) twice, the second time with it alone; it was refused and not logged"
        }
      })
      // two limits, two escalations and two starts: well under the time a caller would wait for ever
      expect(ms).toBeLessThan(10_000)
      expect((await behind).body).toMatchObject({ eve: 2, effects: [{ sum: 3 }] })
      const peek = await get(`${s.url}/v1/peek/hang`)
      expect(peek.status).toBe(504)
      expect(peek.body).toEqual({
        error: { tag: "Timeout", message: "the serf did not answer the peek within 400 ms (workTimeout); it was killed and is restarting", writ: "peek", ms: 400 }
      })
      await healthy(s.url)
      expect((await get(`${s.url}/v1/peek/sum`)).body).toEqual({ dat: 3 })
      const status = (await get(`${s.url}/v1/status`)).body as { restarts: { recent: Array<{ reason: string }> } }
      expect(status.restarts.recent[0]!.reason).toMatch(/is stuck: no answer to its peek within 400 ms \(workTimeout\)$/)
      // every kill was logged with its reason
      expect(logLines(s.stderr()).filter((l) => /ended \(serf \d+ is stuck: no answer/.test(l.message)).length).toBeGreaterThanOrEqual(3)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  }, 40_000)

  it("liege serf: /readyz is 503 with the replay's progress while /livez is 200, then 200", async () => {
    await inTemp("liege-alive-", async (dir) => {
      const serf = testSerf()
      const first = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", "--", serf.command, ...serf.args])
      await healthy(first.url)
      for (let n = 1; n <= 12; n++) await post(`${first.url}/v1/events`, { n })
      first.proc.kill("SIGTERM")
      expect(await first.exited).toBe(0)
      fs.rmSync(path.join(dir, "test-serf.json")) // no snapshot: all 12 events are replayed, a batch of 1 every 250 ms
      const again = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", "--batch", "1", "--", serf.command, ...serf.args], {
        TEST_SERF_PLAY_MS: "250"
      })
      let seen: { status: number; body: unknown } | undefined
      for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
        const r = await get(`${again.url}/readyz`)
        if (r.status === 503 && /replaying the log: [1-9]\d* of 12 events/.test(JSON.stringify(r.body))) {
          seen = r
          break
        }
        await new Promise((r) => setTimeout(r, 50))
      }
      expect(seen?.body).toEqual({ ready: false, why: expect.stringMatching(/^the serf is replaying the log: \d+ of 12 events \(\d+ %\)$/) })
      expect((await get(`${again.url}/livez`)).status).toBe(200)
      expect((await get(`${again.url}/healthz`)).status).toBe(503)
      await healthy(again.url)
      expect((await get(`${again.url}/readyz`)).body).toEqual({ ready: true })
      again.proc.kill("SIGTERM")
      expect(await again.exited).toBe(0)
    })
  }, 40_000)

  it("liege pool: a failed pool is /readyz 503 naming its next try, /livez 200; neither needs the token", async () => {
    const s = await serve([
      "pool", "--workers", "1", "--listen", "127.0.0.1:0", "--token", "secret", "--max-restarts", "0", "--restart-window", "60s",
      "--", "sh", "-c", "exit 1"
    ])
    await eventually(() => s.stderr().includes("one worker is tried again"), 10_000, "the pool to fail")
    const ready = await get(`${s.url}/readyz`)
    expect(ready.status).toBe(503)
    expect(ready.body).toEqual({
      ready: false,
      why: expect.stringMatching(/^the pool failed \(.+\); it tries one worker again in (5\d|60) s$/)
    })
    expect((await get(`${s.url}/livez`)).status).toBe(200)
    expect((await get(`${s.url}/healthz`)).status).toBe(503)
    expect((await get(`${s.url}/v1/status`)).status).toBe(401)
    s.proc.kill("SIGTERM")
    expect(await s.exited).toBe(0)
  })

  it("liege pool draining: it keeps listening, new requests get 503 ShuttingDown, /readyz 503, /livez 200; what was accepted is answered", async () => {
    await inTemp("liege-alive-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...poolWorker])
      await healthy(s.url)
      const inFlight = post(`${s.url}/v1/jobs`, { op: "sleep", ms: 5000 })
      await waitInFlight(s.url)
      s.proc.kill("SIGTERM")
      await eventually(() => s.stderr().includes("stopping"), 10_000, "the drain to begin")
      const late = await post(`${s.url}/v1/jobs`, { op: "echo", value: 1 })
      expect(late.status).toBe(503)
      expect(late.body).toMatchObject({ error: { tag: "ShuttingDown" } })
      expect(late.headers["connection"]).toBe("close")
      expect((await get(`${s.url}/readyz`)).body).toEqual({ ready: false, why: "liege is stopping (draining what it accepted)" })
      expect((await get(`${s.url}/healthz`)).status).toBe(503)
      expect((await get(`${s.url}/livez`)).status).toBe(200)
      expect(await inFlight).toMatchObject({ status: 200, body: { ok: { slept: 5000 } } })
      expect(await s.exited).toBe(0)
    })
  }, 30_000)

  it("liege pool stopped with its whole process group (systemd's default KillMode): no restart, 503 not 502, exit 0", async () => {
    await inTemp("liege-alive-", async (dir) => {
      const s = await serve([
        "pool", "--workers", "2", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", "--log-format", "json", ...poolWorker
      ])
      await healthy(s.url)
      const status = (await get(`${s.url}/v1/status`)).body as { workers: Array<{ pid: number }> }
      const inFlight = post(`${s.url}/v1/jobs`, { op: "sleep", ms: 5000 })
      await waitInFlight(s.url)
      // a service manager signals every process of the unit at once: liege and each worker's group
      s.proc.kill("SIGTERM")
      for (const w of status.workers) process.kill(-w.pid, "SIGTERM")
      const answer = await inFlight
      expect(answer.status).toBe(503)
      expect(answer.body).toMatchObject({ error: { tag: "ShuttingDown", message: expect.stringContaining("while liege was stopping") } })
      expect(await s.exited).toBe(0)
      const messages = logLines(s.stderr()).map((l) => l.message)
      expect(messages.filter((m) => /restarting|failed/.test(m))).toEqual([])
    })
  }, 30_000)

  it("liege pool: an execTimeout kill, a stuck worker (heartbeat) and a handler that crashes (500) are each logged or answered as such", async () => {
    await inTemp("liege-alive-", async (dir) => {
      const s = await serve([
        "pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", "--log-format", "json",
        "--exec-timeout", "300ms", "--heartbeat", "300ms", "--grace", "200ms", ...faulty
      ], { FAULTY_FREEZE_MS: "1500" })
      await healthy(s.url)
      const timeout = await post(`${s.url}/v1/jobs`, { op: "hang" })
      expect(timeout.status).toBe(504)
      await eventually(() => /killed worker 1 \(pid \d+\): request \d+ exceeded execTimeout \(300 ms\); a new one starts/.test(s.stderr()), 10_000, "the kill's log line")
      // the next worker freezes 1.5 s after it is ready: its ping goes unanswered
      await eventually(() => /worker 1 failed \(stuck: no pong within 300 ms \(heartbeat\)\); restarting in/.test(s.stderr()), 10_000, "the stuck worker's log line")
      const doc = (await get(`${s.url}/v1/status`)).body as { restarts: { byReason: Record<string, number> } }
      expect(doc.restarts.byReason).toMatchObject({ stuck: 1 })
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
    await inTemp("liege-alive-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...poolWorker])
      await healthy(s.url)
      const crash = await post(`${s.url}/v1/jobs`, { op: "throw", message: "oops" })
      expect(crash.status).toBe(500)
      expect(crash.body).toEqual({ error: { tag: "Application", code: "internal", message: "Boom: oops" } })
      expect((await post(`${s.url}/v1/jobs`, { op: "fail", code: "nope", message: "no" })).status).toBe(422)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  }, 40_000)

  it("SIGHUP: a server reloads its workers and goes on; liege run stops its child as for SIGTERM", async () => {
    await inTemp("liege-alive-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...poolWorker])
      await healthy(s.url)
      s.proc.kill("SIGHUP")
      await eventually(() => s.stderr().includes("SIGHUP: reloaded"), 10_000, "the SIGHUP line")
      expect((await post(`${s.url}/v1/jobs`, { op: "echo", value: 1 })).status).toBe(200)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
    let hung = false
    const ran = await liege(["run", "--grace", "200ms", "--report", "json", "--", "sh", "-c", "echo up >&2; sleep 30"], {
      onStderr: (text, pid) => {
        if (hung || !text.includes("up")) return
        hung = true
        process.kill(pid, "SIGHUP")
      }
    })
    // the child's escalation: stdin closed, 200 ms, SIGTERM (sh dies of it: 128 + 15)
    expect(ran.status).toBe(143)
    expect(JSON.parse(ran.stderr.trim().split("\n").at(-1)!)).toMatchObject({ termination: "Escalated", signal: "SIGTERM" })
  }, 40_000)
})
