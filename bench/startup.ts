/**
 * Startup and memory of the `liege` command, as a user runs it: the
 * packaged bundle (`dist/bin/liege.js`, built first) against the
 * repository's sources (`bin/liege.ts`, type-stripped at every start) and
 * against `node -e 0`, all in this run.
 *
 * - `liege run -- true`: wall time from spawn to exit, median of N;
 * - `liege pool --workers 1` and `liege serf` on the example workers: the
 *   resident size of the liege process when idle (ready, 1 s after), then
 *   after 10 s of HTTP load from another process (16 keep-alive clients).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const dist = path.join(root, "dist/bin/liege.js")
const sources = path.join(root, "bin/liege.ts")
const node = process.execPath

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const time = (args: ReadonlyArray<string>, n: number) => {
  spawnSync(node, args) // warm: compile cache, page cache
  const ms: Array<number> = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const r = spawnSync(node, args, { stdio: "ignore" })
    ms.push(performance.now() - t0)
    if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}`)
  }
  return median(ms)
}

const build = () => execFileSync(node, [path.join(root, "scripts/build.ts")], { stdio: "inherit" })

export const runTrue = () => {
  build()
  const rounds = 3
  const nodeMs: Array<number> = []
  const bundleMs: Array<number> = []
  const sourceMs: Array<number> = []
  // interleaved rounds: the machine's drift hits all three alike
  for (let i = 0; i < rounds; i++) {
    nodeMs.push(time(["-e", "0"], 15))
    bundleMs.push(time([dist, "run", "--", "true"], 15))
    sourceMs.push(time([sources, "run", "--", "true"], 7))
  }
  const base = median(nodeMs)
  return {
    bench: "liege-run-true",
    nodeMs: Number(base.toFixed(1)),
    packageMs: Number(median(bundleMs).toFixed(1)),
    sourcesMs: Number(median(sourceMs).toFixed(1)),
    packageRatio: Number((median(bundleMs) / base).toFixed(2)),
    sourcesRatio: Number((median(sourceMs) / base).toFixed(2))
  }
}

const kb = (pid: number, field: "VmRSS" | "VmHWM") => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return m === null ? NaN : Number(m[1])
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const healthy = async (url: string) => {
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false)
    if (ok) return
    await sleep(50)
  }
  throw new Error(`${url} never became healthy`)
}

/** The load generator, in its own process so that it does not share liege's CPU time accounting. */
const LOAD = `
const http = require("node:http")
const [url, body, secs, conc] = process.argv.slice(1)
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conc) })
const end = Date.now() + Number(secs) * 1000
let n = 0, bad = 0
const one = () => new Promise((resolve) => {
  const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
    res.resume(); res.on("end", () => { if (res.statusCode !== 200) bad++; n++; resolve() })
  })
  req.on("error", () => { bad++; resolve() })
  req.end(body)
})
Promise.all(Array.from({ length: Number(conc) }, async () => { while (Date.now() < end) await one() }))
  .then(() => { console.log(JSON.stringify({ n, bad })); agent.destroy() })
`

const load = (url: string, body: string, secs: number) => {
  const out = execFileSync(node, ["-e", LOAD, url, body, String(secs), "16"], { encoding: "utf8" })
  return JSON.parse(out) as { n: number; bad: number }
}

const memory = async (label: string, bin: string, kind: "pool" | "serf") => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "liege-bench-mem-"))
  const args = kind === "pool"
    ? ["pool", "--workers", "1", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", "--", node, path.join(root, "examples/pool-worker.ts")]
    : ["serf", "--pier", path.join(dir, "pier"), "--listen", "127.0.0.1:0", "--", node, path.join(root, "examples/kv-serf.ts")]
  const proc = spawn(node, [bin, ...args], { stdio: ["ignore", "pipe", "ignore"] })
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = ""
      proc.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d
        const m = /listening on (\S+)\n/.exec(out)
        if (m !== null) resolve(m[1]!)
      })
      proc.on("exit", (code) => reject(new Error(`liege ${kind} exited ${code}`)))
    })
    await healthy(url)
    await sleep(1000)
    const idleKb = kb(proc.pid!, "VmRSS")
    const [route, body] = kind === "pool"
      ? ["/v1/jobs", JSON.stringify({ op: "echo", value: "x".repeat(48) })]
      : ["/v1/events", JSON.stringify({ op: "put", key: "k", value: "x".repeat(32) })]
    const secs = 10
    const done = load(url + route, body, secs)
    const loadedKb = kb(proc.pid!, "VmRSS")
    const peakKb = kb(proc.pid!, "VmHWM")
    return {
      bench: `liege-${kind}-memory`,
      variant: label,
      idleMb: Number((idleKb / 1024).toFixed(1)),
      afterLoadMb: Number((loadedKb / 1024).toFixed(1)),
      peakMb: Number((peakKb / 1024).toFixed(1)),
      requestsPerSec: Math.round(done.n / secs),
      failed: done.bad
    }
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM")
      await new Promise((r) => proc.once("exit", r))
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export const benches = [
  runTrue,
  () => memory("package", dist, "pool"),
  () => memory("sources", sources, "pool"),
  () => memory("package", dist, "serf"),
  () => memory("sources", sources, "serf")
]
