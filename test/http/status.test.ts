/**
 * `GET /v1/status` and `GET /v1/status/stream` (SPEC §10) on real servers:
 * the document follows its Schema and the servers' life; the stream pushes
 * it about twice a second, only while someone listens; the token guards both.
 */
import * as http from "node:http"
import * as path from "node:path"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { makeStatusStream } from "../../src/http/stream.ts"
import { PoolStatus, SerfStatus } from "../../src/status/document.ts"
import { healthy, post, request, serve } from "../support/http.ts"
import { eventually, fixture, node, root } from "../support/procs.ts"
import { inTemp } from "../support/serfs.ts"

const getStatus = async (url: string, headers: Record<string, string> = {}) => {
  const r = await request("GET", `${url}/v1/status`, undefined, headers)
  expect(r.status, r.text).toBe(200)
  return r.body as unknown
}

/** Reads `n` documents from the event stream. */
const streamed = (url: string, n: number, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; docs: Array<unknown>; type: string | undefined }>((resolve, reject) => {
    const req = http.get(`${url}/v1/status/stream`, { agent: false, headers }, (res) => {
      const docs: Array<unknown> = []
      let buffer = ""
      if (res.statusCode !== 200) {
        res.resume()
        return resolve({ status: res.statusCode!, docs, type: res.headers["content-type"] })
      }
      res.setEncoding("utf8").on("data", (chunk: string) => {
        buffer += chunk
        let at: number
        while ((at = buffer.indexOf("\n\n")) !== -1) {
          const event = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          for (const line of event.split("\n")) if (line.startsWith("data: ")) docs.push(JSON.parse(line.slice(6)))
          if (docs.length >= n) {
            req.destroy()
            return resolve({ status: 200, docs, type: res.headers["content-type"] })
          }
        }
      })
    })
    req.on("error", (e) => (e.message.includes("aborted") || (e as NodeJS.ErrnoException).code === "ECONNRESET" ? undefined : reject(e)))
  })

describe("/v1/status", () => {
  it("liege pool: slots, queue, rates, restarts with reasons, errors and sessions, as its Schema says", async () => {
    await inTemp("liege-status-", async (dir) => {
      const s = await serve(["pool", "--workers", "2", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", "--", node, fixture("faulty-worker.ts")])
      await healthy(s.url)
      const first = Schema.decodeUnknownSync(PoolStatus)(await getStatus(s.url))
      expect(first.workers.map((w) => w.slot)).toEqual([1, 2])
      for (let i = 0; i < 5; i++) expect((await post(`${s.url}/v1/jobs`, { op: "echo", value: i })).status).toBe(200)
      expect((await post(`${s.url}/v1/jobs`, { op: "crash-before" })).status).toBe(502)
      expect((await post(`${s.url}/v1/jobs?session=alpha`, { op: "echo", value: "s" })).status).toBe(202)
      let doc = Schema.decodeUnknownSync(PoolStatus)(await getStatus(s.url))
      // the restarted worker's memory is read at the view's next sample (at most once a second)
      const settled = (d: typeof doc) =>
        d.workers.every((w) => w.state === "ready" && w.pid !== null && (w.rssBytes ?? 0) > 0) && d.sessions?.byState.done === 1
      for (let i = 0; i < 400 && !settled(doc); i++) {
        await new Promise((r) => setTimeout(r, 25))
        doc = Schema.decodeUnknownSync(PoolStatus)(await getStatus(s.url))
      }
      expect(doc.workers.every((w) => w.state === "ready" && w.pid !== null && (w.rssBytes ?? 0) > 0)).toBe(true)
      expect(doc.requests.last10s.count).toBeGreaterThanOrEqual(7)
      expect(doc.requests.last10s.p50Ms).not.toBeNull()
      expect(doc.requests.perSecond).toHaveLength(60)
      expect(doc.restarts.byReason["died serving"]).toBe(1)
      expect(doc.errors[0]).toMatchObject({ tag: "WorkerDied" })
      const died = doc.workers.find((w) => w.lastExit !== null)
      expect(died?.lastExit?.reason).toMatch(/exit|code|died/)
      expect(died?.lastExit?.code).toBe(1)
      expect(doc.sessions).toMatchObject({ byState: { queued: 0, running: 0, done: 1, failed: 0 } })
      expect(doc.queue).toEqual({ depth: 0, max: 1024 })
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  })

  it("liege serf: state, eve, mug, window, events, commits, snapshot, log size, as its Schema says", async () => {
    await inTemp("liege-status-", async (dir) => {
      const s = await serve(["serf", "--pier", path.join(dir, "pier"), "--listen", "127.0.0.1:0", "--", node, path.join(root, "examples/kv-serf.ts")])
      await healthy(s.url)
      for (let i = 0; i < 4; i++) await post(`${s.url}/v1/events`, { op: "put", key: `k${i}`, value: i })
      const last = await post(`${s.url}/v1/events`, { op: "incr", key: "n", by: 1 })
      await post(`${s.url}/v1/snapshot`, {})
      const doc = Schema.decodeUnknownSync(SerfStatus)(await getStatus(s.url))
      expect(doc).toMatchObject({ kind: "serf", state: "running", healthy: true, eve: 5, mug: last.body.mug, lastSnapshotEve: 5, replay: null })
      expect(doc.window.max).toBe(10)
      expect(doc.events.last10s.count).toBe(5)
      expect(doc.commits.total).toBeGreaterThanOrEqual(1)
      expect(doc.commits.maxBatch).toBeGreaterThanOrEqual(1)
      expect(doc.logBytes).toBeGreaterThan(0)
      expect(doc.pid).toBeGreaterThan(0)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  })
})

describe("/v1/status/stream", () => {
  it("pushes the document about twice a second; with --token both routes need it", async () => {
    await inTemp("liege-status-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--token", "sesame", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", "--", node, fixture("faulty-worker.ts")])
      await healthy(s.url)
      expect((await request("GET", `${s.url}/v1/status`)).status).toBe(401)
      expect((await streamed(s.url, 1)).status).toBe(401)
      const auth = { authorization: "Bearer sesame" }
      const t0 = Date.now()
      const got = await streamed(s.url, 4, auth)
      const took = Date.now() - t0
      expect(got.type).toBe("text/event-stream")
      expect(got.docs.map((d) => Schema.decodeUnknownSync(PoolStatus)(d).kind)).toEqual(["pool", "pool", "pool", "pool"])
      // the first at once, then one every ~500 ms
      expect(took).toBeGreaterThanOrEqual(1000)
      const now = got.docs.map((d) => (d as { now: number }).now)
      expect(now[3]! - now[1]!).toBeGreaterThanOrEqual(800)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  })

  it("builds nothing while nobody listens", async () => {
    let built = 0
    const stream = makeStatusStream((publish) => {
      built++
      publish({ n: built })
    }, 20)
    const server = http.createServer((_req, res) => stream.listen(res))
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    try {
      await new Promise((r) => setTimeout(r, 100))
      expect(built).toBe(0)
      const got = await new Promise<number>((resolve) => {
        http.get(url, { agent: false }, (res) => {
          let seen = 0
          res.setEncoding("utf8").on("data", (c: string) => {
            seen += c.split("data: ").length - 1
            if (seen >= 3) {
              res.destroy()
              resolve(seen)
            }
          })
        })
      })
      expect(got).toBeGreaterThanOrEqual(3)
      await eventually(() => stream.listeners() === 0, 2000, "the listener to go")
      const after = built
      await new Promise((r) => setTimeout(r, 100))
      expect(built).toBe(after)
    } finally {
      stream.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })
})
