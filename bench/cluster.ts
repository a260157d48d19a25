/**
 * `npm run bench -- cluster`: liege past one machine, in one run, on a
 * PostgreSQL 15 started for it with durable commits (fsync on).
 *
 * 1. The log: 12 piers in this process on the example key-value serf,
 *    64 B events, the same callers (32, then 64 per serf; window 64) — the
 *    PostgreSQL log against the SQLite pier.
 * 2. HTTP through a cluster: 12 serfs over 1, 2 and 3 `liege cluster serf`
 *    runners, 64 B events from a load generator in its own process (its
 *    clients round robin over the runners, so most events are forwarded;
 *    then, with 2 and 3 runners, again with clients that follow the answers'
 *    `liege-owner` to the serf's runner); the CPU
 *    each kind of process used, so the limit can be seen on 2 cores. The
 *    baseline, measured first in the same run with the same load generator
 *    (96 keep-alive clients): `liege serf` over HTTP (one serf, its SQLite
 *    pier). Each row says the CPU its liege processes (the runners, or the
 *    `liege serf`) spent per event, in µs, and the ratios to the baseline.
 *    Every HTTP row is measured after the same load ran 4 s unmeasured.
 * 3. Failover: 2 runners, the one owning a serf killed with SIGKILL; the
 *    time until that serf answers again through the other.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Logger, Redacted } from "effect"
import { openPier } from "../src/cluster/pier-log.ts"
import { open } from "../src/pier/pier.ts"
import { startPostgres } from "../test/support/postgres.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const node = process.execPath
const bin = path.join(root, "bin/liege.ts")
const kv = [node, path.join(root, "examples/kv-serf.ts")]
const SERFS = 12
const SECONDS = 8
/** The HTTP rows' load runs this long before it is measured (V8's optimizing of a fresh process's hot paths). */
const WARM_SECONDS = 4

const event = (i: number) => ({ op: "put", key: `k${i % 64}`, value: "v".repeat(20) })

/** In-process: 12 piers, `callers` concurrent pokes each, for SECONDS. */
const drive = (pokes: ReadonlyArray<(ev: unknown) => Effect.Effect<unknown, unknown>>, callers: number) =>
  Effect.gen(function*() {
    const end = Date.now() + SECONDS * 1000
    let n = 0
    yield* Effect.forEach(pokes, (poke) =>
      Effect.forEach(Array.from({ length: callers }, (_, c) => c), (c) =>
        Effect.gen(function*() {
          let i = c
          while (Date.now() < end) {
            yield* poke(event(i++))
            n++
          }
        }), { concurrency: "unbounded", discard: true }), { concurrency: "unbounded", discard: true })
    return n / SECONDS
  })

export const logs = (url: string, callers: number) =>
  Effect.gen(function*() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "liege-bench-cluster-"))
    const options = (i: number) => ({ dir: path.join(dir, `s${i}`), command: kv[0]!, args: kv.slice(1), maxInFlight: 64 })
    const sqlite = yield* Effect.scoped(Effect.gen(function*() {
      const piers = yield* Effect.forEach(Array.from({ length: SERFS }, (_, i) => i), (i) => open({ ...options(i), dir: path.join(dir, `lite${i}`) }))
      return yield* drive(piers.map((p) => (ev: unknown) => p.poke(ev)), callers)
    }))
    const pg = yield* Effect.scoped(Effect.gen(function*() {
      const piers = yield* Effect.forEach(Array.from({ length: SERFS }, (_, i) => i), (i) => openPier(`bench${callers}x${i}`, options(i)))
      return yield* drive(piers.map((p) => (ev: unknown) => p.poke(ev)), callers)
    })).pipe(Effect.provide(Layer.fresh(PgClient.layer({ url: Redacted.make(url), maxConnections: 16 }))))
    fs.rmSync(dir, { recursive: true, force: true })
    return {
      bench: "cluster-log",
      serfs: SERFS,
      callersPerSerf: callers,
      event: "64 B",
      sqlitePierEventsPerSec: Math.round(sqlite),
      postgresLogEventsPerSec: Math.round(pg),
      ratio: Number((pg / sqlite).toFixed(2))
    }
  })

/** CPU seconds (user + system) of a process and its children so far. */
const cpuOf = (pid: number): number => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** Every process whose command line contains `needle`, with its CPU seconds. */
const cpuByKind = (): Record<string, number> => {
  const out: Record<string, number> = { runners: 0, single: 0, serfs: 0, postgres: 0 }
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue
    let cmd: string
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "latin1")
    } catch {
      continue
    }
    const kind = cmd.includes("cluster\0serf") ? "runners"
      : cmd.includes("liege.ts\0serf\0") ? "single"
      : cmd.includes("kv-serf.ts") ? "serfs"
      : cmd.startsWith("postgres") ? "postgres"
      : undefined
    if (kind !== undefined) out[kind]! += cpuOf(Number(pid))
  }
  return out
}

/** CPU seconds the whole machine has spent busy so far (every core; /proc/stat, not idle or waiting for I/O). */
const machineBusy = (): number => {
  const [, ...fields] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/)
  const n = fields.map(Number)
  return (n.reduce((a, b) => a + b, 0) - n[3]! - n[4]!) / 100
}

interface Runner {
  readonly url: string
  readonly proc: ReturnType<typeof spawn>
}

/** A `liege` server (`args` its subcommand and flags), once it printed its listening line; `nodeArgs` (e.g. `--cpu-prof`) go to its Node. */
const startLiege = (args: ReadonlyArray<string>, nodeArgs: ReadonlyArray<string> = []): Promise<Runner> =>
  new Promise((resolve, reject) => {
    const proc = spawn(node, [...nodeArgs, bin, ...args, "--", ...kv], { stdio: ["ignore", "pipe", "ignore"] })
    let out = ""
    proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d
      const m = /listening on (\S+)\n/.exec(out)
      if (m !== null) resolve({ url: m[1]!, proc })
    })
    proc.on("exit", (code) => reject(new Error(`liege ${args[0]} exited ${code}`)))
  })

export const startRunner = (database: string, port: number, data: string, nodeArgs?: ReadonlyArray<string>): Promise<Runner> =>
  startLiege(["cluster", "serf", "--database", database, "--runner", `127.0.0.1:${port}`, "--listen", "127.0.0.1:0", "--data", data, "--max-in-flight", "64"], nodeArgs)

const healthy = async (url: string) => {
  for (let i = 0; i < 600; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${url} never became healthy`)
}

const stop = async (r: Runner, signal: NodeJS.Signals = "SIGTERM") => {
  if (r.proc.exitCode !== null || r.proc.signalCode !== null) return
  r.proc.kill(signal)
  await new Promise((res) => r.proc.once("exit", res))
}

/**
 * The load generator, in a process of its own: `callers` keep-alive clients
 * per serf, round robin over the servers. A cluster's serf `s` is
 * `/v1/serfs/sN/events`; with `single`, every client posts to `/v1/events`
 * (`liege serf`'s one serf). With `owner`, the clients of a serf send its
 * events to the runner its last answer named in `liege-owner` (as a client
 * that knows the header does), round robin until one did.
 */
const LOAD = `
const http = require("node:http")
const [urls, serfs, secs, callers, mode] = [process.argv[1].split(","), Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]), process.argv[5]]
const single = mode === "single", follow = mode === "owner"
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
const end = Date.now() + secs * 1000
let n = 0, bad = 0, k = 0
const owners = new Map()
const body = JSON.stringify({ op: "put", key: "k", value: "v".repeat(20) })
const one = (url, serf) => new Promise((resolve) => {
  const req = http.request(url + (single ? "/v1/events" : "/v1/serfs/s" + serf + "/events"), { method: "POST", agent }, (res) => {
    if (follow) { const o = res.headers["liege-owner"]; if (res.statusCode === 200 && urls.includes(o)) owners.set(serf, o); else owners.delete(serf) }
    res.resume(); res.on("end", () => { if (res.statusCode === 200) n++; else bad++; resolve() })
  })
  req.on("error", () => { bad++; owners.delete(serf); resolve() })
  req.end(body)
})
const work = []
for (let s = 0; s < serfs; s++) for (let c = 0; c < callers; c++) work.push((async () => { while (Date.now() < end) await one(owners.get(s) ?? urls[(k++) % urls.length], s) })())
Promise.all(work).then(() => { console.log(JSON.stringify({ n, bad })); agent.destroy() })
`

const CALLERS = 8

/**
 * Transactions committed in `database` so far, from PostgreSQL's statistics
 * (its backends report them within about a second: read after a pause), or
 * undefined where psql is missing.
 */
const commitsIn = (database: string): number | undefined => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500)
  try {
    const out = execFileSync("psql", [database, "-Atc", "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"], { encoding: "utf8" })
    return Number(out.trim())
  } catch {
    return undefined
  }
}

/** Runs the load generator against `urls` for SECONDS; events answered, failures, and the CPU seconds each kind of process spent meanwhile. */
const load = (urls: ReadonlyArray<string>, mode: "single" | Clients, database?: string) => {
  // the same load first, not counted: a fresh process runs slowly until V8 has optimized its hot paths
  execFileSync(node, ["-e", LOAD, urls.join(","), String(SERFS), String(WARM_SECONDS), String(CALLERS), mode], { encoding: "utf8" })
  const commitsBefore = database === undefined ? undefined : commitsIn(database)
  const before: Record<string, number> = { ...cpuByKind(), machine: machineBusy() }
  const t0 = Date.now()
  const out = execFileSync(node, ["-e", LOAD, urls.join(","), String(SERFS), String(SECONDS), String(CALLERS), mode], { encoding: "utf8" })
  const secs = (Date.now() - t0) / 1000
  const after: Record<string, number> = { ...cpuByKind(), machine: machineBusy() }
  const { n, bad } = JSON.parse(out) as { n: number; bad: number }
  const spent = (k: string) => after[k]! - before[k]!
  const commitsAfter = database === undefined ? undefined : commitsIn(database)
  const commits = commitsBefore === undefined || commitsAfter === undefined ? undefined : commitsAfter - commitsBefore
  return { n, bad, secs, spent, commits }
}

const cores = (seconds: number, secs: number) => Number((seconds / secs).toFixed(2))
const perEvent = (seconds: number, n: number) => n === 0 ? null : Math.round((seconds * 1e6) / n)

/** The same run's baseline: `liege serf` over HTTP, its events/s and its CPU per event. */
let baseline: { readonly eventsPerSec: number; readonly cpuUsPerEvent: number | null } | undefined
/** The same run's events/s through one runner. */
let oneRunner: number | undefined

/** `liege serf` over HTTP with the cluster rows' load generator (the same 96 clients, all on its one serf). */
export const single = async (nodeArgs?: ReadonlyArray<string>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "liege-bench-single-"))
  let server: Runner | undefined
  try {
    server = await startLiege(["serf", "--pier", path.join(dir, "pier"), "--listen", "127.0.0.1:0", "--max-in-flight", "64"], nodeArgs)
    await healthy(server.url)
    await fetch(`${server.url}/v1/events`, { method: "POST", body: JSON.stringify(event(0)) })
    const { n, bad, secs, spent } = load([server.url], "single")
    baseline = { eventsPerSec: Math.round(n / SECONDS), cpuUsPerEvent: perEvent(spent("single"), n) }
    return {
      bench: "serf-http",
      serfs: 1,
      clients: SERFS * CALLERS,
      eventsPerSec: baseline.eventsPerSec,
      failed: bad,
      cpuUsPerEvent: baseline.cpuUsPerEvent,
      coresUsed: { liege: cores(spent("single"), secs), serfs: cores(spent("serfs"), secs), machine: cores(spent("machine"), secs) },
      machineCpuUsPerEvent: perEvent(spent("machine"), n)
    }
  } finally {
    if (server !== undefined) await stop(server)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** How the load generator's clients pick a runner: round robin (a balancer that knows nothing), or the serf's owner once an answer named it. */
type Clients = "round-robin" | "owner"

export const throughput = async (database: string, runners: number, clients: Clients = "round-robin", nodeArgs?: ReadonlyArray<string>) => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), "liege-bench-runners-"))
  const started: Array<Runner> = []
  try {
    for (let i = 0; i < runners; i++) started.push(await startRunner(database, 23100 + i + runners * 10, path.join(data, `r${i}`), nodeArgs))
    await Promise.all(started.map((r) => healthy(r.url)))
    // warm every serf (activation, replay)
    for (let s = 0; s < SERFS; s++) await fetch(`${started[0]!.url}/v1/serfs/s${s}/events`, { method: "POST", body: JSON.stringify(event(0)) })
    const { n, bad, secs, spent, commits } = load(started.map((r) => r.url), clients, database)
    const eventsPerSec = Math.round(n / SECONDS)
    if (runners === 1) oneRunner = eventsPerSec
    const runnerUs = perEvent(spent("runners"), n)
    const ratio = (a: number | null | undefined, b: number | null | undefined) =>
      a == null || b == null || b === 0 ? null : Number((a / b).toFixed(2))
    return {
      bench: "cluster-http",
      runners,
      clients,
      serfs: SERFS,
      eventsPerSec,
      failed: bad,
      runnerCpuUsPerEvent: runnerUs,
      // `machine`: every process, the load generator's too — near os.availableParallelism() the rate is the CPU's
      coresUsed: {
        runners: cores(spent("runners"), secs),
        serfs: cores(spent("serfs"), secs),
        postgres: cores(spent("postgres"), secs),
        machine: cores(spent("machine"), secs)
      },
      machineCpuUsPerEvent: perEvent(spent("machine"), n),
      // PostgreSQL transactions committed an event: how much each runner's group commit gathers
      eventsPerCommit: commits === undefined || commits === 0 ? null : Number((n / commits).toFixed(1)),
      // against `liege serf` over HTTP in this run (serf-http): events/s, and CPU per event (goal ≤ 2)
      vsSerfHttp: { eventsPerSec: ratio(eventsPerSec, baseline?.eventsPerSec), cpuPerEvent: ratio(runnerUs, baseline?.cpuUsPerEvent) },
      // against one runner in this run (goal ≥ 1)
      ...(runners === 1 ? {} : { vsOneRunner: ratio(eventsPerSec, oneRunner) })
    }
  } finally {
    await Promise.all(started.map((r) => stop(r)))
    fs.rmSync(data, { recursive: true, force: true })
  }
}

const failover = async (database: string) => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), "liege-bench-failover-"))
  const started: Array<Runner> = []
  try {
    for (let i = 0; i < 2; i++) started.push(await startRunner(database, 23200 + i, path.join(data, `r${i}`)))
    await Promise.all(started.map((r) => healthy(r.url)))
    // a serf owned by runner 0 (its answers say which runner gave them), with some history
    let serf = ""
    for (let s = 0; s < 40 && serf === ""; s++) {
      const r = await fetch(`${started[1]!.url}/v1/serfs/f${s}/events`, { method: "POST", body: JSON.stringify(event(s)) })
      if (r.headers.get("liege-runner") === `127.0.0.1:${23200}`) serf = `f${s}`
    }
    for (let i = 0; i < 200; i++) await fetch(`${started[1]!.url}/v1/serfs/${serf}/events`, { method: "POST", body: JSON.stringify(event(i)) })
    const t0 = Date.now()
    await stop(started[0]!, "SIGKILL")
    for (;;) {
      const r = await fetch(`${started[1]!.url}/v1/serfs/${serf}/events`, { method: "POST", body: JSON.stringify(event(1)), signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
      if (r?.status === 200) break
      await new Promise((res) => setTimeout(res, 20))
    }
    return { bench: "cluster-failover", runners: 2, eventsInLog: 201, msToAnswerAgain: Date.now() - t0, timing: "lock expiry 2 s, assignments 500 ms, health 1 s, send retry 50 ms" }
  } finally {
    await Promise.all(started.map((r) => stop(r)))
    fs.rmSync(data, { recursive: true, force: true })
  }
}

export const benches = (() => {
  let pg: Awaited<ReturnType<typeof startPostgres>> | undefined
  const database = async () => {
    pg ??= await startPostgres({ fsync: true })
    return pg.createDb()
  }
  return [
    // the piers run in this process: their log lines would land between the JSON lines on stdout
    async () => Effect.runPromise(logs(await database(), 32).pipe(Effect.provide(Logger.layer([])))),
    async () => Effect.runPromise(logs(await database(), 64).pipe(Effect.provide(Logger.layer([])))),
    () => single(),
    async () => throughput(await database(), 1),
    async () => throughput(await database(), 2),
    async () => throughput(await database(), 2, "owner"),
    async () => throughput(await database(), 3),
    async () => throughput(await database(), 3, "owner"),
    async () => {
      try {
        return await failover(await database())
      } finally {
        await pg?.stop()
      }
    }
  ]
})()
