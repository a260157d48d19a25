/**
 * Pool throughput and latency, in one run, for every row:
 * - liege: `Pool.submit` from `concurrency` callers, `workers` slots, a
 *   per-worker window of 1 or 64;
 * - raw: the same worker process (examples/pool-worker.ts) and framing,
 *   driven by a plain Node dispatcher with the same workers, window and
 *   callers (no Effect);
 * - jest-worker and workerpool (child-process mode, their own IPC — jest-worker
 *   with V8 serialization), at window 1 (they run one task per worker at a time).
 * 16 KiB rows run in json and in msgpack.
 * Plus: the time to stop 32 workers that ignore SIGTERM (and stdin EOF).
 */
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Logger } from "effect"
import { make } from "../src/pool/pool.ts"
import { codec as codecOf, type CodecName } from "../src/wire/codec.ts"
import { FrameDecoder } from "../src/wire/frame.ts"
import { inOwnProcess } from "./isolated.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const workerScript = path.join(here, "../examples/pool-worker.ts")
const quiet = Logger.layer([])

const payloadOf = (bytes: number) => ({ op: "echo", value: "x".repeat(Math.max(0, bytes - 26)) })

interface Measure {
  readonly perSec: number
  readonly p50: number
  readonly p99: number
}

/** Requests before the measured ones (the JIT, the workers' first requests). */
const WARMUP = 1000

/**
 * A pause once every worker is up, before measuring: a Node worker that has
 * just said it is ready still compiles and collects for a few hundred ms,
 * which a lockstep caller on 2 cores would measure as its own cost.
 */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 300))

const summarize = (latencies: Array<number>, ms: number): Measure => {
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!
  return { perSec: Math.round(latencies.length / (ms / 1000)), p50: Number(at(0.5).toFixed(3)), p99: Number(at(0.99).toFixed(3)) }
}

/** Runs `total` requests from `concurrency` callers through `call`; latencies in ms. */
const drive = async (total: number, concurrency: number, call: () => Promise<unknown>): Promise<Measure> => {
  const latencies: Array<number> = []
  let next = 0
  const t0 = performance.now()
  const caller = async () => {
    while (next < total) {
      next++
      const s = performance.now()
      await call()
      latencies.push(performance.now() - s)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, caller))
  return summarize(latencies, performance.now() - t0)
}

/** The raw baseline: plain Node, the same worker and framing, least-loaded dispatch, a FIFO. */
const rawPool = async (workers: number, window: number, codecName: CodecName) => {
  const c = codecOf(codecName)
  interface W {
    cp: ReturnType<typeof spawn>
    load: number
    pending: Map<number, (v: unknown) => void>
  }
  const ws: Array<W> = []
  const queue: Array<{ payload: unknown; resolve: (v: unknown) => void }> = []
  let nextId = 1
  const send = (w: W, payload: unknown, resolve: (v: unknown) => void) => {
    const id = nextId++
    w.load++
    w.pending.set(id, resolve)
    w.cp.stdin!.write(c.frame({ t: "req", id, payload }))
  }
  const pick = () => {
    let best: W | undefined
    for (const w of ws) if (w.load < window && (best === undefined || w.load < best.load)) best = w
    return best
  }
  await Promise.all(Array.from({ length: workers }, () =>
    new Promise<void>((ready) => {
      const cp = spawn(process.execPath, [workerScript], {
        stdio: ["pipe", "pipe", "inherit"],
        detached: true,
        env: { ...process.env, LIEGE_CODEC: codecName }
      })
      const w: W = { cp, load: 0, pending: new Map() }
      const decoder = new FrameDecoder()
      let booted = false
      cp.stdout!.on("data", (chunk: Buffer) =>
        decoder.push(chunk, (frame) => {
          const m = c.decode(frame) as { t: string; id: number; ok: unknown }
          if (!booted) {
            booted = true
            ws.push(w)
            return ready()
          }
          w.load--
          const resolve = w.pending.get(m.id)!
          w.pending.delete(m.id)
          resolve(m.ok)
          const q = queue.shift()
          if (q !== undefined) send(w, q.payload, q.resolve)
        }))
    })))
  return {
    call: (payload: unknown) =>
      new Promise((resolve) => {
        const w = pick()
        if (w === undefined) queue.push({ payload, resolve })
        else send(w, payload, resolve)
      }),
    close: () => Promise.all(ws.map((w) => new Promise((r) => (w.cp.on("exit", r), w.cp.stdin!.end()))))
  }
}

const withLiege = (workers: number, window: number, total: number, concurrency: number, payload: unknown, codec: CodecName) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pool = yield* make({ command: process.execPath, args: [workerScript], workers, maxInFlight: window, codec })
    while (pool.view().ready < workers) yield* Effect.sleep(2)
    yield* Effect.promise(settle)
    const call = () => Effect.runPromise(pool.submit(payload))
    yield* Effect.promise(() => drive(WARMUP, concurrency, call))
    return yield* Effect.promise(() => drive(total, concurrency, call))
  })).pipe(Effect.provide(quiet)))

const withRaw = async (workers: number, window: number, total: number, concurrency: number, payload: unknown, codec: CodecName) => {
  const raw = await rawPool(workers, window, codec)
  await settle()
  await drive(WARMUP, concurrency, () => raw.call(payload))
  const m = await drive(total, concurrency, () => raw.call(payload))
  await raw.close()
  return m
}

const withJest = async (workers: number, total: number, concurrency: number, payload: unknown) => {
  const { Worker } = require("jest-worker") as typeof import("jest-worker")
  const w = new Worker(path.join(here, "workers/jest-echo.cjs"), { numWorkers: workers, enableWorkerThreads: false }) as any
  await drive(WARMUP, concurrency, () => w.echo(payload))
  await settle()
  const m = await drive(total, concurrency, () => w.echo(payload))
  await w.end()
  return m
}

const withWorkerpool = async (workers: number, total: number, concurrency: number, payload: unknown) => {
  const workerpool = require("workerpool") as typeof import("workerpool")
  const pool = workerpool.pool(path.join(here, "workers/workerpool-echo.cjs"), { maxWorkers: workers, minWorkers: workers, workerType: "process" })
  await drive(WARMUP, concurrency, () => pool.exec("echo", [payload]))
  await settle()
  const m = await drive(total, concurrency, () => pool.exec("echo", [payload]))
  await pool.terminate()
  return m
}

const median = (ms: Array<Measure>): Measure => {
  const by = (k: keyof Measure) => ms.map((m) => m[k]).sort((a, b) => a - b)[Math.floor(ms.length / 2)]!
  return { perSec: by("perSec"), p50: by("p50"), p99: by("p99") }
}

/** One measurement in a fresh Node process (./isolated.ts). */
const isolated = async (args: ReadonlyArray<string | number>): Promise<Measure> =>
  JSON.parse(await inOwnProcess(fileURLToPath(import.meta.url), args)) as Measure

/** Three rounds, the variants interleaved, each in its own process; medians. */
export const row = async (bytes: number, concurrency: number, workers: number, window: number, codec: CodecName = "json") => {
  const variants = window === 1 ? ["raw", "liege", "jest", "workerpool"] : ["raw", "liege"]
  const rounds = new Map<string, Array<Measure>>(variants.map((v) => [v, []]))
  for (let r = 0; r < 3; r++) {
    for (const v of variants) rounds.get(v)!.push(await isolated([v, bytes, concurrency, workers, window, codec]))
  }
  const m = (v: string) => median(rounds.get(v)!)
  const raw = m("raw")
  const liege = m("liege")
  return {
    bench: "pool",
    payloadBytes: bytes,
    concurrency,
    workers,
    window,
    codec,
    liege,
    raw,
    ...(window === 1 ? { jestWorker: m("jest"), workerpool: m("workerpool") } : {}),
    ratio: Number((liege.perSec / raw.perSec).toFixed(2))
  }
}

const runCase = async (variant: string, bytes: number, concurrency: number, workers: number, window: number, codec: CodecName) => {
  const payload = payloadOf(bytes)
  // a lockstep caller is measured long enough (≥ 0.3 s) that a worker's last start-up work does not weigh
  const total = concurrency === 1 ? 10_000 : 20_000
  switch (variant) {
    case "raw":
      return withRaw(workers, window, total, concurrency, payload, codec)
    case "liege":
      return withLiege(workers, window, total, concurrency, payload, codec)
    case "jest":
      return withJest(workers, total, concurrency, payload)
    default:
      return withWorkerpool(workers, total, concurrency, payload)
  }
}

/** 32 workers that ignore SIGTERM and stdin EOF, stopped in parallel. */
export const stopStubborn = async () => {
  const grace = 200
  const killWait = 1000 // the supervisor's default
  const ms = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pool = yield* make({
      command: process.execPath,
      args: [path.join(here, "workers/stubborn.ts")],
      workers: 32,
      grace
    })
    while (pool.view().ready < 32) yield* Effect.sleep(5)
    const t0 = performance.now()
    yield* pool.shutdown(0)
    return performance.now() - t0
  })).pipe(Effect.provide(quiet)))
  return {
    bench: "pool-stop-32-stubborn",
    ms: Math.round(ms),
    bound: 2 * grace + killWait + 100,
    grace,
    killWait
  }
}

/** 64 B rows in json; 16 KiB rows in json and in msgpack (jest-worker moves V8-serialized bytes, not JSON). */
const shapes: ReadonlyArray<[number, CodecName]> = [[64, "json"], [16 * 1024, "json"], [16 * 1024, "msgpack"]]

export const benches = [
  ...shapes.flatMap(([bytes, codec]) =>
    [1, 64].flatMap((concurrency) => [1, 2].map((workers) => () => row(bytes, concurrency, workers, 1, codec)))
  ),
  ...shapes.flatMap(([bytes, codec]) => [1, 2].map((workers) => () => row(bytes, 64, workers, 64, codec))),
  stopStubborn
]

if (import.meta.main && process.argv[2] === "case") {
  const [variant, b, c, w, win, codec] = process.argv.slice(3)
  process.stdout.write(
    JSON.stringify(await runCase(variant!, Number(b), Number(c), Number(w), Number(win), (codec ?? "json") as CodecName))
  )
  process.exit(0)
}
