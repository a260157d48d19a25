/**
 * Streaming over HTTP (SPEC §8): `POST /v1/jobs` with `Accept:
 * text/event-stream` answers Server-Sent Events — `chunk` events as the
 * client takes them, then `done` or `error`; a client that goes away
 * cancels the request; a slow client slows the worker and liege's memory
 * stays flat.
 */
import { describe, expect, it } from "@effect/vitest"
import { onTestFinished } from "vitest"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { healthy, request, serve } from "../support/http.ts"
import { inTemp } from "../support/serfs.ts"
import { eventually, root } from "../support/procs.ts"

const python = ["--", "python3", path.join(root, "examples/python/pool_worker.py")]

interface Sse {
  readonly res: http.IncomingMessage
  readonly req: http.ClientRequest
  /** Events so far, parsed. */
  readonly events: Array<{ readonly event: string; readonly data: unknown }>
  /** Resolves when the answer ends. */
  readonly ended: Promise<void>
}

/** POSTs `payload` asking for events; the events are parsed as they come. */
const sse = (url: string, payload: unknown): Promise<Sse> =>
  new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/jobs`, { method: "POST", agent: false, headers: { accept: "text/event-stream", "content-type": "application/json" } }, (res) => {
      const events: Array<{ event: string; data: unknown }> = []
      let buffer = ""
      res.setEncoding("utf8")
      res.on("data", (text: string) => {
        buffer += text
        for (let at = buffer.indexOf("\n\n"); at !== -1; at = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message"
          const data = /^data: (.*)$/m.exec(block)?.[1]
          events.push({ event, data: data === undefined ? undefined : JSON.parse(data) })
        }
      })
      const ended = new Promise<void>((done) => {
        res.on("end", () => done())
        res.on("close", () => done())
      })
      resolve({ res, req, events, ended })
    })
    req.on("error", reject)
    // a test that fails midway does not leave the stream open (liege would drain it at its stop)
    onTestFinished(() => void req.destroy())
    req.end(JSON.stringify(payload))
  })

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "latin1"))![1])

describe("streaming answers over HTTP", () => {
  it("a Python generator streams chunk events, then done; a refusal is an error event", async () => {
    await inTemp("liege-sse-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...python])
      await healthy(s.url)
      const ok = await sse(s.url, { op: "count", n: 5 })
      await ok.ended
      expect(ok.res.statusCode).toBe(200)
      expect(ok.res.headers["content-type"]).toBe("text/event-stream")
      expect(ok.events).toEqual([
        ...[1, 2, 3, 4, 5].map((i) => ({ event: "chunk", data: { i } })),
        { event: "done", data: { counted: 5 } }
      ])
      const bad = await sse(s.url, { op: "count", n: -1 })
      await bad.ended
      expect(bad.events).toEqual([{ event: "error", data: { error: expect.objectContaining({ tag: "Application", code: "bad_request" }) } }])
      // without the header, the same handler answers the chunks as one value
      expect((await request("POST", `${s.url}/v1/jobs`, JSON.stringify({ op: "count", n: 2 }))).body).toEqual({ ok: [{ i: 1 }, { i: 2 }] })
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  }, 30_000)

  it("a client that goes away mid-stream cancels the request: the worker lets go and serves the next", async () => {
    await inTemp("liege-sse-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...python])
      await healthy(s.url)
      const pidBefore = (await request("POST", `${s.url}/v1/jobs`, JSON.stringify({ op: "pid" }))).body.ok
      const stream = await sse(s.url, { op: "count", n: 1_000_000, ms: 1 })
      await eventually(() => stream.events.length >= 3, 10_000, "three chunk events")
      stream.req.destroy()
      for (let i = 0; ; i++) {
        const doc = (await request("GET", `${s.url}/v1/status`)).body as { inFlight: number }
        if (doc.inFlight === 0) break
        if (i > 500) throw new Error("the stream was not cancelled")
        await new Promise((r) => setTimeout(r, 10))
      }
      expect((await request("POST", `${s.url}/v1/jobs`, JSON.stringify({ op: "pid" }))).body.ok).toBe(pidBefore)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  }, 30_000)

  it("a client that stops reading slows the worker: liege's memory stays flat while 64 MB wait to be produced", async () => {
    await inTemp("liege-sse-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...python])
      await healthy(s.url)
      // 4,096 chunks of 16 KiB: 64 MB, which liege would hold if the worker ran ahead of the client
      const stream = await sse(s.url, { op: "count", n: 4096, pad: 16_384 })
      try {
        await eventually(() => stream.events.length >= 2, 10_000, "two chunk events")
        stream.res.pause()
        const before = rssKb(s.proc.pid!)
        // ample time for the worker to produce everything, were it not held back
        await new Promise((r) => setTimeout(r, 1500))
        const held = rssKb(s.proc.pid!) - before
        // were the worker let run ahead, liege would hold the 64 MB (and more as event text); a paused
        // stream's own growth (V8's young generation filling up, the socket's buffers) is ~14 MB here
        expect(held).toBeLessThan(32 * 1024)
        stream.res.resume()
        await stream.ended
      } finally {
        stream.req.destroy()
      }
      expect(stream.events.filter((e) => e.event === "chunk")).toHaveLength(4096)
      expect(stream.events.at(-1)).toEqual({ event: "done", data: { counted: 4096 } })
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  }, 60_000)
})
