/**
 * The HTTP edge of both servers (SPEC §1, §8), against real `liege serf` and
 * `liege pool` processes: bodies that cannot travel exactly are refused
 * before any worker or log sees them; a taken or foreign address is named
 * with its reason; `/metrics` passes Prometheus's own `promtool`.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { healthy, post, request, type Running, serve } from "../support/http.ts"
import { readLog } from "../support/log.ts"
import { liege, node, root } from "../support/procs.ts"
import { inTemp } from "../support/serfs.ts"
import { lines } from "../support/live.ts"

const run = promisify(execFile)
const kv = ["--", node, path.join(root, "examples/kv-serf.ts")]
const echo = ["--", node, path.join(root, "examples/pool-worker.ts")]

const servers = (dir: string) => ({
  serf: { args: ["serf", "--pier", path.join(dir, "pier"), "--listen", "127.0.0.1:0", ...kv], route: "/v1/events" },
  pool: { args: ["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", ...echo], route: "/v1/jobs" }
})

const stop = async (s: Running) => {
  s.proc.kill("SIGTERM")
  expect(await s.exited).toBe(0)
}

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth)

/** Bodies that must be 400, with the words their message must hold. */
const refused: ReadonlyArray<[string, Buffer, RegExp]> = [
  ["invalid UTF-8", Buffer.concat([Buffer.from('{"op":"put","key":"k","value":"'), Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from('"}')]), /UTF-8/],
  ["a lone high surrogate", Buffer.from('{"op":"put","key":"k","value":"\\ud800x"}'), /Unicode/],
  ["a lone low surrogate", Buffer.from('{"op":"put","key":"k","value":"\\uDC00"}'), /Unicode/],
  ["a high surrogate followed by a non-surrogate escape", Buffer.from('{"v":"\\ud83d\\u0041"}'), /Unicode/],
  ["129 levels of nesting (the default --max-depth is 128)", Buffer.from(nested(129)), /deeper than 128/],
  ["100,000 nested [", Buffer.from("[".repeat(100_000)), /deeper than 128/],
  ["an empty body", Buffer.from(""), /empty/],
  ["text that is not JSON", Buffer.from("{op: put}"), /not JSON/]
]

describe("bodies that cannot travel exactly are refused at the edge", () => {
  for (const kind of ["serf", "pool"] as const) {
    it(`liege ${kind}: 400 with a reason, nothing reaches the worker or the log; 128 levels and paired surrogates pass`, async () => {
      await inTemp("liege-edge-", async (dir) => {
        const spec = servers(dir)[kind]
        const s = await serve(spec.args)
        await healthy(s.url)
        for (const [what, body, reason] of refused) {
          const r = await request("POST", `${s.url}${spec.route}`, body, { "content-type": "application/json" })
          expect(r.status, what).toBe(400)
          expect(r.body.error.tag, what).toBe("BadBody")
          expect(r.body.error.message, what).toMatch(reason)
        }
        const deep = await request("POST", `${s.url}${spec.route}`, nested(128))
        // a raw astral character and the same one as an escaped surrogate pair
        const pair = await request("POST", `${s.url}${spec.route}`, kind === "serf"
          ? '{"op":"put","key":"emoji","value":"😀 \\ud83d\\ude00"}'
          : '{"op":"echo","value":"😀 \\ud83d\\ude00"}')
        if (kind === "serf") {
          // the kv serf refuses a bare array (422 Bail), but it saw it: the body passed the edge
          expect(deep.status).toBe(422)
          expect(pair.status).toBe(200)
          expect(pair.body.eve).toBe(1)
        } else {
          expect(deep.status).toBe(422)
          expect(pair.body).toEqual({ ok: "😀 😀" })
        }
        await stop(s)
        if (kind === "serf") {
          expect(readLog(path.join(dir, "pier")).map((r) => r.ev)).toEqual([{ op: "put", key: "emoji", value: "😀 😀" }])
        }
      })
    })
  }

  it("--max-depth sets the limit", async () => {
    await inTemp("liege-edge-", async (dir) => {
      const s = await serve([...servers(dir).pool.args.slice(0, -3), "--max-depth", "3", ...echo])
      await healthy(s.url)
      expect((await post(`${s.url}/v1/jobs`, { op: "echo", value: [[1]] })).status).toBe(200)
      const deep = await post(`${s.url}/v1/jobs`, { op: "echo", value: [[[1]]] })
      expect(deep.status).toBe(400)
      expect(deep.body.error.message).toMatch(/deeper than 3 \(--max-depth\)/)
      await stop(s)
    })
  })
})

describe("an address that cannot be bound", () => {
  const taken = () =>
    new Promise<net.Server>((resolve) => {
      const server = net.createServer()
      server.listen(0, "127.0.0.1", () => resolve(server))
    })

  for (const kind of ["serf", "pool"] as const) {
    it(`liege ${kind}: a port in use exits 1 naming the address and the reason, before spawning anything`, async () => {
      const server = await taken()
      const port = (server.address() as net.AddressInfo).port
      try {
        await inTemp("liege-bind-", async (dir) => {
          const args = servers(dir)[kind].args.map((a) => a === "127.0.0.1:0" ? `127.0.0.1:${port}` : a)
          const r = await liege([...args.slice(0, -3), "--", "sh", "-c", `touch ${path.join(dir, "spawned")}`])
          expect(r.status).toBe(1)
          expect(lines(r.stderr).at(-1)).toBe(`liege: cannot listen on 127.0.0.1:${port}: address already in use`)
          expect(r.stdout).toBe("")
          expect(fs.existsSync(path.join(dir, "spawned"))).toBe(false)
        })
      } finally {
        server.close()
      }
    })
  }

  it("an address that is not this machine's exits 1 with the reason", async () => {
    await inTemp("liege-bind-", async (dir) => {
      const r = await liege(["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "192.0.2.1:7070", "--", "true"])
      expect(r.status).toBe(1)
      expect(lines(r.stderr).at(-1)).toBe("liege: cannot listen on 192.0.2.1:7070: address not available (not an address of this machine)")
    })
  })
})

/** Debian's promtool: on PATH, or where .ci/run puts it. */
const promtool = (): string => {
  for (const dir of [...(process.env["PATH"] ?? "").split(":"), path.join(root, ".ci/tools/bin")]) {
    const at = path.join(dir, "promtool")
    if (fs.existsSync(at)) return at
  }
  throw new Error("promtool not found: install Debian's prometheus package, or run .ci/run (it puts promtool in .ci/tools/bin)")
}

const lint = async (text: string) => {
  const tool = promtool()
  return new Promise<string>((resolve) => {
    const child = execFile(tool, ["check", "metrics"], (error, stdout, stderr) => resolve(error === null ? "" : stdout + stderr))
    child.stdin!.end(text)
  })
}

describe("/metrics", () => {
  for (const kind of ["serf", "pool"] as const) {
    it(`liege ${kind}: passes promtool check metrics, with process metrics and HTTP requests by route and status`, async () => {
      await inTemp("liege-metrics-", async (dir) => {
        const spec = servers(dir)[kind]
        const s = await serve(spec.args)
        await healthy(s.url)
        await post(`${s.url}${spec.route}`, kind === "serf" ? { op: "put", key: "a", value: 1 } : { op: "echo", value: 1 })
        await request("POST", `${s.url}${spec.route}`, "not json")
        const text = (await request("GET", `${s.url}/metrics`)).text
        expect(await lint(text)).toBe("")
        for (const name of ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds"]) {
          expect(text).toMatch(new RegExp(`^${name} \\d`, "m"))
        }
        const route = kind === "serf" ? "events" : "jobs"
        expect(text).toContain(`liege_http_requests_total{route="${route}",status="200"} 1`)
        expect(text).toContain(`liege_http_requests_total{route="${route}",status="400"} 1`)
        await stop(s)
      })
    })
  }

  it("promtool is real: it rejects a counter without _total", async () => {
    expect(await lint("# HELP x_count a\n# TYPE x_count counter\nx_count 1\n")).toMatch(/counter/)
    expect(await run(promtool(), ["--version"]).then((r) => r.stdout + r.stderr)).toMatch(/promtool/)
  })
})
