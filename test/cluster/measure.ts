/**
 * Throughput of the PostgreSQL serf log (not a test; numbers only):
 *
 *   node test/cluster/measure.ts
 *
 * On a throwaway PostgreSQL 15 (test/support/postgres.ts), once with
 * `fsync=on` (durable commits) and once with `fsync=off`: appends of 64-byte
 * events in batches of 1 to 1000 on one serf, one append in flight
 * at a time (a pier's group commit); the same from 8 serfs at once (one
 * runner hosting several serfs); and a replay of 100 000 events read in
 * batches of 1000.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { claim, type EventLog, type LoggedEvent } from "../../src/cluster/event-log.ts"
import { startPostgres } from "../support/postgres.ts"

const EVENT_BYTES = 64

const eventText = (eve: number): string => {
  const head = `{"eve":${eve},"pad":"`
  return `${head}${"x".repeat(EVENT_BYTES - head.length - 2)}"}`
}

const batchAt = (first: number, n: number): Array<LoggedEvent> =>
  Array.from({ length: n }, (_, i) => ({ eve: first + i, wen: Date.now(), mug: (first + i) >>> 0, ev: eventText(first + i) }))

/** Appends `total` events in batches of `size`, one append at a time; events/s. */
const appendRun = (log: EventLog, size: number, total: number) =>
  Effect.gen(function*() {
    const next = (yield* log.last) + 1
    const batches = Array.from({ length: Math.ceil(total / size) }, (_, i) => batchAt(next + i * size, size))
    const t0 = performance.now()
    for (const b of batches) yield* log.append(b)
    return (batches.length * size) / ((performance.now() - t0) / 1000)
  })

const measure = (fsync: boolean) =>
  Effect.promise(() => startPostgres({ fsync })).pipe(
    Effect.flatMap((server) =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(server.createDb)
        const lines: Array<string> = []
        yield* Effect.gen(function*() {
          const plan: Array<[size: number, total: number]> = fsync
            ? [[1, 1500], [10, 10_000], [30, 30_000], [100, 50_000], [300, 100_000], [1000, 200_000]]
            : [[1, 4000], [10, 30_000], [30, 60_000], [100, 100_000], [300, 200_000], [1000, 300_000]]
          for (const [size, total] of plan) {
            const log = yield* claim(`one-${size}`)
            yield* appendRun(log, size, Math.min(total, size * 20)) // warm up
            const rate = yield* appendRun(log, size, total)
            lines.push(`  one serf, batch ${String(size).padStart(4)}: ${Math.round(rate).toLocaleString("en")} events/s (${Math.round(rate / size).toLocaleString("en")} appends/s)`)
          }
          for (const [size, total] of [[1, fsync ? 1000 : 2000], [10, 5000], [100, 20_000]] as const) {
            const logs = yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => i), (i) => claim(`many-${size}-${i}`))
            const t0 = performance.now()
            yield* Effect.forEach(logs, (log) => appendRun(log, size, total), { concurrency: "unbounded" })
            const rate = (logs.length * total) / ((performance.now() - t0) / 1000)
            lines.push(`  8 serfs at once, batch ${String(size).padStart(4)}: ${Math.round(rate).toLocaleString("en")} events/s in all`)
          }
          // replay: 100 000 events read back in batches of 1000
          const log = yield* claim("replay")
          for (let i = 0; i < 100; i++) yield* log.append(batchAt(i * 1000 + 1, 1000))
          for (let round = 0; round < 2; round++) {
            const t0 = performance.now()
            let after = 0
            let bytes = 0
            while (true) {
              const page = yield* log.read(after, 100_000, 1000)
              if (page.length === 0) break
              for (const e of page) bytes += e.ev.length
              after = page[page.length - 1]!.eve
            }
            const s = (performance.now() - t0) / 1000
            if (after !== 100_000 || bytes !== 100_000 * EVENT_BYTES) throw new Error("replay read the wrong events")
            lines.push(`  replay of 100 000 events in batches of 1000 (${round === 0 ? "cold" : "warm"}): ${Math.round(100_000 / s).toLocaleString("en")} events/s (${(s * 1000).toFixed(0)} ms)`)
          }
        }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })))
        return lines
      }).pipe(Effect.ensuring(Effect.promise(() => server.stop())))
    )
  )

const program = Effect.gen(function*() {
  for (const fsync of [true, false]) {
    const lines = yield* measure(fsync)
    console.log(`fsync=${fsync ? "on (durable)" : "off"}:`)
    for (const line of lines) console.log(line)
  }
})

// a measurement script's own entry point, not part of liege
await Effect.runPromise(program)
