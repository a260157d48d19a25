/**
 * `npm run bench -- http`: what the HTTP front costs, measured from outside
 * (SPEC §8, issue 18): the CPU time of the server's **main thread** (the
 * event loop; not libuv's threads, not the workers) per request, against a
 * bare `node:http` server in the same run:
 *
 * - bare: `node:http` in a process of its own that reads the JSON body,
 *   `JSON.parse`s it and answers a small JSON (what any server must do);
 * - piped: the floor for any server that hands requests to a worker
 *   process — bare, plus the same worker over a pipe, one request at a
 *   time (PIPED); liege's own cost is what it adds to this;
 * - pool: `liege pool --workers 1 -- node examples/pool-worker.ts`,
 *   `POST /v1/jobs {"op":"echo","value":…}`;
 * - serf: `liege serf --pier DIR -- node examples/kv-serf.ts`,
 *   `POST /v1/events {"op":"put",…}` (each answer after its commit).
 *
 * Each server is started from the sources (`node bin/liege.ts …`), warmed,
 * then loaded by a generator in a process of its own (a keep-alive agent,
 * `CLIENTS` concurrent clients, `REQUESTS` requests); the main thread's CPU
 * is read from `/proc/PID/task/PID/schedstat` (ns; `stat`'s utime+stime as
 * a fallback) before and after. Three rounds, interleaved, medians.
 *
 * Plus: `submit`, the pool's own share — `pool.submit` of the same payload
 * from CLIENTS callers in a process of its own (no HTTP), the same worker,
 * the main thread's CPU per request.
 *
 * `BENCH_HTTP_PROF=DIR` runs the liege servers under `node --cpu-prof` with
 * their profiles in DIR; `BENCH_HTTP_COMPARE=CHECKOUT` adds the pool and
 * serf cases of another checkout of liege (say, the commit before a change)
 * to the same rounds; `BENCH_HTTP_CLIENTS=N` and `BENCH_HTTP_WORKERS=N`
 * change the load (8 clients) and the pool (1 worker).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Logger } from "effect"
import { make } from "../src/pool/pool.ts"
import { inOwnProcess } from "./isolated.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const node = process.execPath
const ROUNDS = 3
const WARM = 3_000
const REQUESTS = 20_000
const CLIENTS = Number(process.env["BENCH_HTTP_CLIENTS"] ?? 8)
const WORKERS = process.env["BENCH_HTTP_WORKERS"] ?? "1"

/** What both baselines do for every request: read the body and parse it (400 if it is not JSON), answer JSON. */
const SERVE = `
const http = require("node:http")
const answer = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  res.end(body)
}
const serve = (handle) => http.createServer((req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    let value
    try {
      value = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    } catch {
      return answer(res, 400, '{"error":{"tag":"BadBody"}}')
    }
    handle(value, res)
  })
})
const listen = (server) =>
  server.listen(0, "127.0.0.1", () => process.stdout.write("listening on http://127.0.0.1:" + server.address().port + "\\n"))
`

/** The fair baseline: read the body, parse it, answer a small JSON. */
const BARE = SERVE + `
const server = serve((value, res) => answer(res, 200, JSON.stringify({ ok: value.value ?? null })))
listen(server)
process.on("SIGTERM", () => server.close(() => process.exit(0)))
`

/**
 * The floor for a server that hands each request to a worker process: the
 * bare server, plus the same worker (examples/pool-worker.ts) behind a pipe
 * with liege's framing, one request at a time, a FIFO queue — no timeouts,
 * no supervision, no counters. What liege adds to it is liege's own cost.
 */
const PIPED = SERVE + `
const { spawn } = require("node:child_process")
const worker = spawn(process.argv[1], [process.argv[2]], { stdio: ["pipe", "pipe", "inherit"] })
const queue = []
let busy = undefined, nextId = 1, pending = Buffer.alloc(0), listening = false
const send = (job) => {
  busy = job
  const text = JSON.stringify({ t: "req", id: nextId++, payload: job.value })
  const frame = Buffer.allocUnsafe(8 + Buffer.byteLength(text))
  frame.writeUInt32LE(frame.length - 8, 0)
  frame.writeUInt32LE(0, 4)
  frame.write(text, 8)
  worker.stdin.write(frame)
}
worker.stdout.on("data", (chunk) => {
  pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
  while (pending.length >= 8) {
    const length = pending.readUInt32LE(0)
    if (pending.length < 8 + length) break
    const m = JSON.parse(pending.toString("utf8", 8, 8 + length))
    pending = pending.subarray(8 + length)
    if (m.t === "ready") {
      if (!listening) listen(server)
      listening = true
      continue
    }
    const job = busy
    busy = undefined
    if (queue.length > 0) send(queue.shift())
    answer(job.res, 200, JSON.stringify({ ok: m.ok }))
  }
})
const server = serve((value, res) => {
  const job = { value, res }
  if (busy === undefined) send(job)
  else queue.push(job)
})
process.on("SIGTERM", () => { worker.stdin.end(); server.close(() => process.exit(0)) })
`

/** The load: CLIENTS keep-alive clients sending N requests; prints {n, bad, ms}. */
const LOAD = `
const http = require("node:http")
const [url, total, clients, body] = [new URL(process.argv[1]), Number(process.argv[2]), Number(process.argv[3]), process.argv[4]]
const agent = new http.Agent({ keepAlive: true, maxSockets: clients })
let sent = 0, n = 0, bad = 0
const one = () => new Promise((resolve) => {
  const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
    res.resume()
    res.on("end", () => { if (res.statusCode === 200) n++; else bad++; resolve() })
  })
  req.on("error", () => { bad++; resolve() })
  req.end(body)
})
const t0 = performance.now()
const client = async () => { while (sent < total) { sent++; await one() } }
Promise.all(Array.from({ length: clients }, client)).then(() => {
  console.log(JSON.stringify({ n, bad, ms: performance.now() - t0 }))
  agent.destroy()
})
`

/** Nanoseconds of CPU the process's main thread has used so far. */
const mainThreadNs = (pid: number): number => {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[0])
  } catch {
    const fields = fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 1e7 // clock ticks of 10 ms
  }
}

interface Started {
  readonly url: string
  readonly proc: ChildProcess
  readonly dir: string | undefined
}

const start = (args: ReadonlyArray<string>, dir: string | undefined): Promise<Started> =>
  new Promise((resolve, reject) => {
    const proc = spawn(node, args, { stdio: ["ignore", "pipe", "ignore"], cwd: root })
    let out = ""
    proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d
      const m = /listening on (\S+)\n/.exec(out)
      if (m !== null) resolve({ url: m[1]!, proc, dir })
    })
    proc.on("exit", (code) => reject(new Error(`${args.join(" ")} exited ${code} before listening`)))
  })

const ready = async (url: string) => {
  for (let i = 0; i < 400; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${url} never became ready`)
}

const stop = async (s: Started) => {
  if (s.proc.exitCode === null && s.proc.signalCode === null) {
    const exited = new Promise((r) => s.proc.once("exit", r))
    s.proc.kill("SIGTERM")
    await exited
  }
  if (s.dir !== undefined) fs.rmSync(s.dir, { recursive: true, force: true })
}

const load = (url: string, total: number, body: string) =>
  new Promise<{ n: number; bad: number; ms: number }>((resolve, reject) =>
    execFile(node, ["-e", LOAD, url, String(total), String(CLIENTS), body], (e, out) => e === null ? resolve(JSON.parse(out)) : reject(e))
  )

interface Case {
  readonly name: string
  readonly path: string
  readonly body: string
  readonly start: () => Promise<Started>
}

const profiling = process.env["BENCH_HTTP_PROF"]
const nodeFlags = profiling === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profiling}`]

/** `liege SUBCOMMAND …` of `checkout`, with a fresh data directory for `args`, once it is ready. */
const startLiege = (checkout: string, args: (dir: string) => ReadonlyArray<string>) => async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "liege-bench-http-"))
  const s = await start([...nodeFlags, path.join(checkout, "bin/liege.ts"), ...args(dir)], dir)
  await ready(s.url)
  return s
}

const liegeCases = (label: string, checkout: string): ReadonlyArray<Case> => [
  {
    name: `pool${label}`,
    path: "/v1/jobs",
    body: JSON.stringify({ op: "echo", value: "x".repeat(40) }),
    start: startLiege(checkout, (dir) => [
      "pool", "--workers", WORKERS, "--listen", "127.0.0.1:0", "--state", path.join(dir, "state.db"),
      "--", node, path.join(checkout, "examples/pool-worker.ts")
    ])
  },
  {
    name: `serf${label}`,
    path: "/v1/events",
    body: JSON.stringify({ op: "put", key: "k", value: "v".repeat(20) }),
    start: startLiege(checkout, (dir) => [
      "serf", "--pier", path.join(dir, "pier"), "--listen", "127.0.0.1:0",
      "--", node, path.join(checkout, "examples/kv-serf.ts")
    ])
  }
]

const cases: ReadonlyArray<Case> = [
  {
    name: "bare",
    path: "/",
    body: JSON.stringify({ op: "echo", value: "x".repeat(40) }),
    start: () => start(["-e", BARE], undefined)
  },
  {
    name: "piped",
    path: "/",
    body: JSON.stringify({ op: "echo", value: "x".repeat(40) }),
    start: () => start(["-e", PIPED, node, path.join(root, "examples/pool-worker.ts")], undefined)
  },
  ...liegeCases("", root),
  ...(process.env["BENCH_HTTP_COMPARE"] === undefined ? [] : liegeCases("-compare", path.resolve(process.env["BENCH_HTTP_COMPARE"])))
]

interface Round {
  readonly usPerRequest: number
  readonly perSec: number
  /** The share of the load's wall time the main thread was on a CPU. */
  readonly busy: number
}

const measure = async (c: Case): Promise<Round> => {
  const s = await c.start()
  try {
    await load(s.url + c.path, WARM, c.body)
    const before = mainThreadNs(s.proc.pid!)
    const got = await load(s.url + c.path, REQUESTS, c.body)
    const used = mainThreadNs(s.proc.pid!) - before
    if (got.bad > 0) throw new Error(`${c.name}: ${got.bad} requests failed`)
    return { usPerRequest: used / 1000 / got.n, perSec: got.n / (got.ms / 1000), busy: used / 1e6 / got.ms }
  } finally {
    await stop(s)
  }
}

/** In a process of its own: µs of the main thread per `pool.submit`, CLIENTS callers, one worker. */
const submitOnly = Effect.gen(function*() {
  const pool = yield* make({ command: node, args: [path.join(root, "examples/pool-worker.ts")], workers: 1 })
  yield* pool.whenReady
  const payload = { op: "echo", value: "x".repeat(40) }
  const drive = (n: number) =>
    Effect.forEach(Array.from({ length: CLIENTS }), () =>
      Effect.gen(function*() {
        for (let i = 0; i < n / CLIENTS; i++) yield* pool.submit(payload)
      }), { concurrency: "unbounded", discard: true })
  yield* drive(WARM)
  const before = mainThreadNs(process.pid)
  yield* drive(REQUESTS)
  return (mainThreadNs(process.pid) - before) / 1000 / REQUESTS
}).pipe(Effect.scoped, Effect.provide(Logger.layer([])))

if (import.meta.main && process.argv[2] === "case") {
  process.stdout.write(String(await Effect.runPromise(submitOnly)))
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const run = async () => {
  const got = new Map<string, Array<Round>>(cases.map((c) => [c.name, []]))
  const submits: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of cases) got.get(c.name)!.push(await measure(c))
    submits.push(Number(await inOwnProcess(fileURLToPath(import.meta.url), ["submit"])))
  }
  const us = (name: string) => median(got.get(name)!.map((r) => r.usPerRequest))
  const bare = us("bare")
  const piped = us("piped")
  const submit = median(submits)
  return [...cases.map((c) => ({
    bench: "http",
    case: c.name,
    clients: CLIENTS,
    poolWorkers: Number(WORKERS),
    requests: REQUESTS,
    mainThreadUsPerRequest: Number(us(c.name).toFixed(1)),
    bareUsPerRequest: Number(bare.toFixed(1)),
    ratio: Number((us(c.name) / bare).toFixed(2)),
    // against the floor for a server with a worker process (the pipe's round trip)
    vsPiped: Number((us(c.name) / piped).toFixed(2)),
    requestsPerSec: Math.round(median(got.get(c.name)!.map((r) => r.perSec))),
    mainThreadBusy: Number(median(got.get(c.name)!.map((r) => r.busy)).toFixed(2)),
    rounds: got.get(c.name)!.map((r) => Number(r.usPerRequest.toFixed(1)))
  })), {
    bench: "http",
    case: "submit",
    clients: CLIENTS,
    requests: REQUESTS,
    mainThreadUsPerRequest: Number(submit.toFixed(1)),
    bareUsPerRequest: Number(bare.toFixed(1)),
    ratio: Number((submit / bare).toFixed(2)),
    rounds: submits.map((v) => Number(v.toFixed(1)))
  }]
}

let results: Promise<ReadonlyArray<object>> | undefined
export const benches = [...cases, "submit"].map((_, i) => async () => (await (results ??= run()))[i]!)
