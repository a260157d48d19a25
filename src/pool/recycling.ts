/**
 * Recycling by age, idleness and memory, and an elastic pool's shrinking
 * (SPEC §5): a sweep over the ready and busy workers, on Effect's clock.
 * A worker due to be recycled is replaced new-first (./successor.ts); an
 * elastic pool's worker idle for `idleTtl` is let go while more than MIN
 * run. (`maxJobs` is counted by the worker itself, as it takes requests.)
 *
 * Memory is the resident memory of the worker's whole process group
 * (./memory.ts): a worker whose children hold the memory is recycled too.
 */
import { Effect } from "effect"
import type { RecycleReason } from "./end.ts"
import type { PoolSettings } from "./options.ts"
import type { Worker } from "./worker.ts"

/** What the sweep decides, done by the pool. */
export interface Recycler {
  /** `w` is due to be recycled: it is replaced new-first. */
  readonly recycle: (w: Worker, why: RecycleReason, reason: string) => void
  /** An elastic pool: `w` has been idle for `idleTtl`; it is let go if more than MIN run. */
  readonly scaleDown: (w: Worker) => void
  /** The resident memory of each worker's process group, in MiB, by pid. */
  readonly memory: (pids: ReadonlyArray<number>) => Map<number, number>
}

/** The sweep, for ever (undefined when no option asks for one). */
export const sweeper = (
  settings: PoolSettings,
  workers: ReadonlyArray<Worker | undefined>,
  now: () => number,
  act: Recycler
): Effect.Effect<never> | undefined => {
  const { ttlMs, idleTtlMs, maxMemoryMb, elastic } = settings
  if (ttlMs === 0 && idleTtlMs === 0 && maxMemoryMb === 0) return undefined
  const every = Math.max(10, Math.min(1000, ...[ttlMs * 0.9, idleTtlMs].filter((t) => t > 0).map((t) => t / 4)))
  const sweep = Effect.sync(() => {
    const at = now()
    const serving = workers.filter((w): w is Worker => w !== undefined && (w.state === "ready" || w.state === "busy"))
    const rss = maxMemoryMb > 0 ? act.memory(serving.map((w) => w.child.pid)) : undefined
    for (const w of serving) {
      const idle = w.load === 0 && at - w.idleSince >= idleTtlMs
      if (w.ttlMs > 0 && at - w.startedAt >= w.ttlMs) {
        act.recycle(w, "ttl", `older than ${Math.round(w.ttlMs)} ms (ttl ${ttlMs} ms, jittered)`)
      } else if (idleTtlMs > 0 && elastic && idle) {
        act.scaleDown(w)
      } else if (idleTtlMs > 0 && !elastic && idle && w.jobs > 0) {
        act.recycle(w, "idleTtl", `idle for ${idleTtlMs} ms (idleTtl)`)
      } else if (rss !== undefined) {
        const mb = rss.get(w.child.pid)
        if (mb !== undefined && mb > maxMemoryMb) {
          act.recycle(w, "maxMemoryMb", `its processes hold ${Math.round(mb)} MiB > ${maxMemoryMb} MiB (maxMemoryMb)`)
        }
      }
    }
  })
  return Effect.forever(Effect.andThen(Effect.sleep(every), sweep))
}
