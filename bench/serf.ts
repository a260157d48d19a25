/**
 * Serf throughput (SPEC §2 `run`), in one run:
 * - events/s through `Serf.work` (pier off) and `Pier.poke` (pier on: each
 *   answer waits for its group commit; the event given as JSON text, as the
 *   HTTP server does), at maxInFlight 1, 10 and 64, with 64 B and 4 KiB events;
 * - the raw baseline: the same serf process and the same framing, driven by
 *   a plain Node loop with the same window (no Effect, no pier);
 * - replay events/s from a pier of 1,000,000 events (the log is made by the
 *   raw driver, mugs included, so replay checks them as usual); alone, three
 *   replays of one log: `node bench/serf.ts replay [rounds]`.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Logger } from "effect"
import { PierDb } from "../src/pier/db.ts"
import { open } from "../src/pier/pier.ts"
import { start } from "../src/serf/host.ts"
import { json } from "../src/wire/codec.ts"
import { FrameDecoder } from "../src/wire/frame.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const serf = { command: process.execPath, args: [path.join(here, "../examples/kv-serf.ts")] }
const quiet = Logger.layer([])

const eventOf = (size: number) => (i: number) => {
  const key = `k${i % 1000}`
  const pad = size - JSON.stringify({ op: "put", key, value: "" }).length
  return { op: "put", key, value: "x".repeat(Math.max(0, pad)) }
}

/** The raw baseline: spawn the serf, keep `window` work writs outstanding, count answers. */
const raw = (n: number, window: number, make: (i: number) => unknown, onAnswer?: (plea: any, i: number) => void) =>
  new Promise<number>((resolve, reject) => {
    const cp = spawn(serf.command, serf.args, { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, LIEGE_CODEC: "json" } })
    const decoder = new FrameDecoder()
    let ripe = false
    let sent = 0
    let answered = 0
    let t0 = 0
    const pump = () => {
      cp.stdin.cork()
      while (sent < n && sent - answered < window) cp.stdin.write(json.frame({ t: "work", wen: 0, ev: make(sent++) }))
      process.nextTick(() => cp.stdin.uncork())
    }
    cp.stdout.on("data", (chunk: Buffer) => {
      decoder.push(chunk, (payload) => {
        const plea = json.decode(payload) as { t: string }
        if (!ripe) {
          ripe = true
          t0 = performance.now()
          return
        }
        onAnswer?.(plea, answered)
        answered++
      })
      if (answered === n) {
        const ms = performance.now() - t0
        cp.stdin.end()
        cp.on("exit", () => resolve(n / (ms / 1000)))
        return
      }
      if (ripe) pump()
    })
    cp.on("error", reject)
  })

const viaHost = (n: number, window: number, make: (i: number) => unknown) =>
  Effect.scoped(Effect.gen(function*() {
    const s = yield* start({ ...serf, maxInFlight: window })
    const t0 = performance.now()
    yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => s.work(make(i), 0), {
      concurrency: window * 2,
      discard: true
    })
    return n / ((performance.now() - t0) / 1000)
  }))

const viaPier = (n: number, window: number, make: (i: number) => unknown) =>
  Effect.gen(function*() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "liege-bench-"))
    try {
      return yield* Effect.scoped(Effect.gen(function*() {
        const pier = yield* open({ dir, ...serf, maxInFlight: window })
        yield* pier.poke(make(0))
        // as `liege serf` does: the event arrives as JSON text (the HTTP body), parsed once
        const texts = Array.from({ length: 1000 }, (_, i) => JSON.stringify(make(i)))
        const t0 = performance.now()
        yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => {
          const text = texts[i % 1000]!
          return pier.poke(JSON.parse(text), text)
        }, {
          concurrency: Math.max(window, 1) * 2,
          discard: true
        })
        return n / ((performance.now() - t0) / 1000)
      }))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

const round = (x: number) => Math.round(x)

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Three rounds, the variants interleaved (the machine's drift hits them alike); medians. */
export const run = async (window: number, size: number) => {
  const n = window === 1 ? 10_000 : 60_000
  const make = eventOf(size)
  const rounds = { raw: [] as Array<number>, host: [] as Array<number>, pier: [] as Array<number> }
  for (let r = 0; r < 3; r++) {
    rounds.raw.push(await raw(n, window, make))
    rounds.host.push(await Effect.runPromise(viaHost(n, window, make).pipe(Effect.provide(quiet))))
    rounds.pier.push(await Effect.runPromise(viaPier(n, window, make).pipe(Effect.provide(quiet))))
  }
  const baseline = median(rounds.raw)
  const host = median(rounds.host)
  const pier = median(rounds.pier)
  return {
    bench: "serf-run",
    maxInFlight: window,
    eventBytes: size,
    events: n,
    rawPerSec: round(baseline),
    pierOffPerSec: round(host),
    pierOnPerSec: round(pier),
    pierOffRatio: Number((host / baseline).toFixed(2)),
    pierOnRatio: Number((pier / baseline).toFixed(2))
  }
}

/**
 * Replay of a pier of `events` logged events into the example serf, from
 * `open` until the pier is ready (the serf's start included). With `rounds`
 * above 1, the same log is replayed that many times (each from event 1) and
 * the median is given, with every round's figure.
 */
export const replay = async (events = 1_000_000, rounds = 1) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "liege-bench-replay-"))
  try {
    const make = eventOf(64)
    const db = PierDb.open(dir)
    let rows: Array<{ eve: number; wen: number; mug: number; ev: string }> = []
    const madeAt = performance.now()
    await raw(events, 64, make, (plea, i) => {
      rows.push({ eve: plea.eve, wen: 0, mug: plea.mug, ev: JSON.stringify(make(i)) })
      if (rows.length === 10_000) {
        db.append(rows)
        rows = []
      }
    })
    db.append(rows)
    db.close()
    const madeMs = performance.now() - madeAt
    const perSec: Array<number> = []
    for (let r = 0; r < rounds; r++) {
      // the pier saved a snapshot as it closed: without it, the next round replays the whole log again
      fs.rmSync(path.join(dir, "kv-snapshot.json"), { force: true })
      perSec.push(await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const t0 = performance.now()
        const pier = yield* open({ dir, ...serf, batchSize: 1000 })
        while (!pier.ready()) yield* Effect.sleep(1)
        if (pier.counters.replay().done !== events) throw new Error(`replayed ${pier.counters.replay().done}`)
        return events / ((performance.now() - t0) / 1000)
      })).pipe(Effect.provide(quiet))))
    }
    return {
      bench: "serf-replay",
      events,
      replayPerSec: round(median([...perSec])),
      ...(rounds > 1 ? { rounds: perSec.map(round) } : {}),
      logBuiltMs: round(madeMs)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export const benches = [
  () => run(1, 64),
  () => run(10, 64),
  () => run(64, 64),
  () => run(1, 4096),
  () => run(10, 4096),
  () => run(64, 4096),
  () => replay()
]

// `node bench/serf.ts replay [rounds]`: the replay case alone (one log, `rounds` replays of it, default 3)
if (import.meta.main && process.argv[2] === "replay") {
  process.stdout.write(JSON.stringify(await replay(1_000_000, Number(process.argv[3] ?? 3))) + "\n")
}
