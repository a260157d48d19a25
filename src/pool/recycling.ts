/**
 * Recycling by age, idleness and memory (SPEC §5): a sweep over the ready
 * and busy workers, on Effect's clock, that lets a worker go between
 * requests — it takes nothing new, finishes what it holds, and leaves on
 * stdin EOF. (`maxJobs` is counted by the worker itself, at each answer.)
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import type { PoolSettings } from "./options.ts"
import type { Worker } from "./worker.ts"

/** A process's resident memory in MiB (VmRSS), if it still runs. */
export const readRssMb = (pid: number): number | undefined => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "latin1"))
    return m === null ? undefined : Number(m[1]) / 1024
  } catch {
    return undefined
  }
}

/** The sweep, for ever (undefined when no option asks for one). */
export const sweeper = (
  settings: PoolSettings,
  workers: ReadonlyArray<Worker | undefined>,
  now: () => number
): Effect.Effect<never> | undefined => {
  const { ttlMs, idleTtlMs, maxMemoryMb } = settings
  if (ttlMs === 0 && idleTtlMs === 0 && maxMemoryMb === 0) return undefined
  const every = Math.max(10, Math.min(1000, ...[ttlMs, idleTtlMs].filter((t) => t > 0).map((t) => t / 4)))
  const sweep = Effect.sync(() => {
    const at = now()
    for (const w of workers) {
      if (w === undefined || (w.state !== "ready" && w.state !== "busy")) continue
      if (ttlMs > 0 && at - w.startedAt >= ttlMs) w.retire("ttl", `older than ${ttlMs} ms (ttl)`)
      else if (idleTtlMs > 0 && w.jobs > 0 && w.load === 0 && at - w.idleSince >= idleTtlMs) {
        w.retire("idleTtl", `idle for ${idleTtlMs} ms (idleTtl)`)
      } else if (maxMemoryMb > 0) {
        const rss = readRssMb(w.child.pid)
        if (rss !== undefined && rss > maxMemoryMb) w.retire("maxMemoryMb", `resident ${Math.round(rss)} MiB > ${maxMemoryMb} MiB (maxMemoryMb)`)
      }
    }
  })
  return Effect.forever(Effect.andThen(Effect.sleep(every), sweep))
}
