/**
 * Streaming answers and Effect RPC over a pool (SPEC §5, §11), in one run:
 * - stream: chunks per second of one streamed request (`count`, 100 000
 *   chunks `{"i": k}`, credit 64) through `pool.stream`, against a raw
 *   baseline — the same worker and framing, driven by plain Node that grants
 *   credit the same way (half the credit each time half is taken);
 * - rpc: calls per second of a unary RPC (`RpcPool.Client`, `Add`) against
 *   `pool.submit` of the same size on the same pool settings (one worker, 64
 *   in flight, 64 callers), and chunks per second of a streaming RPC
 *   (`Count`, one value per chunk).
 * Three rounds, interleaved, each in its own process; medians.
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Logger, Stream } from "effect"
import { Maths } from "../examples/rpc/maths.ts"
import { make } from "../src/pool/pool.ts"
import * as RpcPool from "../src/rpc/index.ts"
import { codec as codecOf } from "../src/wire/codec.ts"
import { FrameDecoder } from "../src/wire/frame.ts"
import { medians } from "./isolated.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const poolWorker = path.join(here, "../examples/pool-worker.ts")
const rpcWorker = path.join(here, "../examples/rpc/maths-worker.ts")
const CHUNKS = 100_000
const CREDIT = 64
const CALLS = 20_000
const CALLERS = 64
const quiet = Logger.layer([])

/** Chunks per second of one `count` request, by hand. */
const rawStream = () =>
  new Promise<number>((resolve, reject) => {
    const c = codecOf("json")
    const cp = spawn(process.execPath, [poolWorker], { stdio: ["pipe", "pipe", "inherit"] })
    const decoder = new FrameDecoder()
    let t0 = 0
    let got = 0
    let taken = 0
    cp.on("error", reject)
    cp.stdout!.on("data", (chunk: Buffer) =>
      decoder.push(chunk, (frame) => {
        const m = c.decode(frame) as { t: string }
        if (m.t === "ready") {
          t0 = performance.now()
          return void cp.stdin!.write(c.frame({ t: "req", id: 1, payload: { op: "count", n: CHUNKS }, stream: CREDIT }))
        }
        if (m.t === "chunk") {
          got++
          if (++taken >= CREDIT / 2) {
            cp.stdin!.write(c.frame({ t: "credit", id: 1, n: taken }))
            taken = 0
          }
          return
        }
        if (m.t === "res") {
          const perSec = Math.round(got / ((performance.now() - t0) / 1000))
          cp.on("exit", () => resolve(perSec))
          cp.stdin!.end()
        }
      }))
  })

const liegeStream = () =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pool = yield* make({ command: process.execPath, args: [poolWorker], workers: 1 })
    yield* pool.whenReady
    const t0 = performance.now()
    const n = yield* Stream.runFold(pool.stream({ op: "count", n: CHUNKS }, { credit: CREDIT }), () => 0, (k, part) => part._tag === "Chunk" ? k + 1 : k)
    return Math.round(n / ((performance.now() - t0) / 1000))
  })).pipe(Effect.provide(quiet)))

/** `CALLS` calls of `one` from `CALLERS` callers: calls per second. */
const callsPerSec = <E, R>(one: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    const run = (n: number) =>
      Effect.gen(function*() {
        let next = 0
        const caller = Effect.whileLoop({ while: () => next++ < n, body: () => one, step: () => {} })
        const t0 = performance.now()
        yield* Effect.all(Array.from({ length: CALLERS }, () => caller), { concurrency: "unbounded", discard: true })
        return Math.round(n / ((performance.now() - t0) / 1000))
      })
    yield* run(1_000)
    return yield* run(CALLS)
  })

const submitCalls = () =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pool = yield* make({ command: process.execPath, args: [poolWorker], workers: 1, maxInFlight: 64 })
    yield* pool.whenReady
    return yield* callsPerSec(pool.submit({ op: "add", a: 20, b: 22 }))
  })).pipe(Effect.provide(quiet)))

class Bench extends RpcPool.Client<Bench>()("bench/Maths", Maths, { command: process.execPath, args: [rpcWorker], workers: 1, maxInFlight: 64, credit: CREDIT }) {}

const rpcCalls = () =>
  Effect.runPromise(Effect.gen(function*() {
    const maths = yield* Bench
    return yield* callsPerSec(maths.Add({ a: 20, b: 22 }))
  }).pipe(Effect.provide(Bench.layer), Effect.provide(quiet)))

const rpcStream = () =>
  Effect.runPromise(Effect.gen(function*() {
    const maths = yield* Bench
    const t0 = performance.now()
    const n = yield* Stream.runFold(maths.Count({ n: CHUNKS }), () => 0, (k) => k + 1)
    return Math.round(n / ((performance.now() - t0) / 1000))
  }).pipe(Effect.provide(Bench.layer), Effect.provide(quiet)))

const cases: Record<string, () => Promise<number>> = { rawStream, liegeStream, submitCalls, rpcCalls, rpcStream }

const streaming = async () => {
  const m = await medians(fileURLToPath(import.meta.url), ["rawStream", "liegeStream"])
  return {
    bench: "pool-stream",
    chunks: CHUNKS,
    credit: CREDIT,
    chunksPerSec: { liege: m("liegeStream"), raw: m("rawStream") },
    ratio: Number((m("liegeStream") / m("rawStream")).toFixed(2))
  }
}

const rpc = async () => {
  const m = await medians(fileURLToPath(import.meta.url), ["submitCalls", "rpcCalls", "rpcStream"])
  return {
    bench: "rpc-over-pool",
    callers: CALLERS,
    window: 64,
    callsPerSec: { rpc: m("rpcCalls"), submit: m("submitCalls") },
    ratio: Number((m("rpcCalls") / m("submitCalls")).toFixed(2)),
    streamChunksPerSec: m("rpcStream")
  }
}

export const benches = [streaming, rpc]

if (import.meta.main && process.argv[2] === "case") {
  process.stdout.write(String(await cases[process.argv[3]!]!()))
  process.exit(0)
}
