/**
 * The pool's one view (SPEC §10): its status document, built from the
 * pool's own state and counters. `/v1/status`, `/metrics`, the status page
 * and the tests all read this, so they cannot disagree.
 */
import type { RestartLog } from "../internal/keeper.ts"
import type { Histogram } from "../status/counters.ts"
import * as Status from "../status/document.ts"
import type { RateWindow } from "../status/rates.ts"
import type { Health } from "./health.ts"
import type { Queue } from "./queue.ts"
import { groupRssMb } from "./memory.ts"
import type { Reload } from "./reload.ts"
import type { Slot } from "./slots.ts"
import type { Worker } from "./worker.ts"

/** What the pool counts on its hot path. */
export interface PoolCounters {
  /** Answers by outcome (`ok` or an error tag). */
  readonly answers: Map<string, number>
  /** Seconds from acceptance to answer. */
  readonly latency: Histogram
  /** Recycles by the option that decided them. */
  readonly recycles: Map<string, number>
  /** An elastic pool's decisions (SPEC §5 Sizing). */
  readonly sizing: { up: number; down: number; last: Status.PoolStatus["size"]["last"] }
  readonly requests: RateWindow
  readonly errors: Array<Status.RecentError>
}

export interface PoolState {
  readonly startedAt: number
  readonly slots: ReadonlyArray<Slot>
  readonly workers: ReadonlyArray<Worker | undefined>
  readonly queue: Queue
  readonly health: Health
  readonly restarts: RestartLog
  readonly counters: PoolCounters
  readonly stopping: () => boolean
  /** An elastic pool's bounds. */
  readonly elastic: { readonly min: number; readonly max: number } | undefined
  readonly generation: () => number
  readonly reload: () => Reload
}

/**
 * The workers' memory for the view: one pass over /proc costs about a
 * millisecond, and a view may be asked for often (a test polling, a page
 * per second per viewer), so a reading serves for a second unless the
 * workers changed.
 */
let lastMemory: { readonly at: number; readonly pids: string; readonly mb: Map<number, number> } | undefined = undefined
const memoryOf = (pids: ReadonlyArray<number>, now: number): Map<number, number> => {
  const key = pids.join(",")
  if (lastMemory !== undefined && lastMemory.pids === key && now - lastMemory.at < 1000 && now >= lastMemory.at) return lastMemory.mb
  lastMemory = { at: now, pids: key, mb: groupRssMb(pids) }
  return lastMemory.mb
}

/** A worker that has not ended yet. */
export const live = (w: Worker | undefined): w is Worker => w !== undefined && w.end === undefined
/** A worker that can take requests. */
export const serving = (w: Worker) => w.state === "ready" || w.state === "busy"

const sum = (m: Map<string, number>) => {
  let n = 0
  for (const v of m.values()) n += v
  return n
}

/** `ready`, or why not (the failed pool's next try, workers booting): SPEC §8 `/readyz`. */
export const readiness = (pool: PoolState, now: number): Status.Readiness => {
  if (pool.stopping()) return Status.notReady("the pool is stopping")
  const failure = pool.health.failure
  if (failure !== undefined) {
    const inS = Math.max(0, Math.ceil((failure.nextTryAt - now) / 1000))
    return Status.notReady(`the pool failed (${failure.error.reason}); it tries one worker again in ${inS} s`)
  }
  let booting = 0
  for (const w of pool.workers) {
    if (!live(w)) continue
    if (serving(w)) return Status.Ready
    if (w.state === "booting") booting++
  }
  const restarting = pool.slots.filter((s) => s.active && pool.workers[s.number - 1] === undefined && s.nextTryAt !== undefined).length
  return Status.notReady(`no worker is ready yet (${booting} booting, ${restarting} restarting)`)
}

export const view = (pool: PoolState, now: number): Status.PoolStatus => {
  const { health, queue, restarts, counters } = pool
  const failure = health.failure
  const reload = pool.reload()
  // the slots in the pool: every one of a fixed pool; an elastic pool's active ones (and any still ending)
  const shown = pool.slots.filter((s) => s.active || pool.workers[s.number - 1] !== undefined)
  const memory = memoryOf(shown.flatMap((s) => {
    const w = pool.workers[s.number - 1]
    return w === undefined ? [] : [w.child.pid]
  }), now)
  let ready = 0
  let inFlight = 0
  for (const w of pool.workers) {
    if (!live(w)) continue
    if (serving(w)) ready++
    inFlight += w.running.size
  }
  for (const slot of pool.slots) if (slot.outgoing !== undefined) inFlight += slot.outgoing.running.size
  return {
    kind: "pool",
    now,
    startedAt: pool.startedAt,
    healthy: readiness(pool, now).ready,
    failed: failure === undefined ? null : { reason: failure.error.reason, since: failure.since, retryAt: failure.nextTryAt },
    workers: shown.map((slot): Status.Slot => {
      const w = pool.workers[slot.number - 1]
      const rss = w === undefined ? undefined : memory.get(w.child.pid)
      const succ = slot.successor
      return {
        slot: slot.number,
        worker: w?.serial ?? null,
        pid: w?.child.pid ?? null,
        state: w !== undefined ? w.state : slot.nextTryAt !== undefined ? "restarting" : "booting",
        nextTryAt: w === undefined ? slot.nextTryAt ?? null : null,
        inFlight: w?.running.size ?? 0,
        served: w?.jobs ?? 0,
        rssBytes: rss === undefined ? null : Math.round(rss * 1024 * 1024),
        startedAt: w?.startedAt ?? null,
        readyAt: w?.readyAt ?? null,
        lastExit: slot.lastExit ?? null,
        generation: w?.generation ?? null,
        successor: succ === undefined || succ.state !== "booting"
          ? null
          : { pid: succ.worker?.child.pid ?? null, generation: succ.generation, why: succ.why }
      }
    }),
    ready,
    inFlight,
    queue: { depth: queue.size, max: queue.max },
    requests: counters.requests.snapshot(now),
    answers: { total: sum(counters.answers), byOutcome: Object.fromEntries(counters.answers) },
    restarts: {
      total: restarts.total,
      byReason: Object.fromEntries(restarts.byKind),
      recent: restarts.recent.slice().reverse()
    },
    recycles: { total: sum(counters.recycles), byReason: Object.fromEntries(counters.recycles) },
    size: {
      min: pool.elastic?.min ?? pool.slots.length,
      max: pool.elastic?.max ?? pool.slots.length,
      running: shown.length,
      up: counters.sizing.up,
      down: counters.sizing.down,
      last: counters.sizing.last
    },
    reload: {
      generation: pool.generation(),
      running: reload.current === undefined ? null : { ...reload.current },
      total: reload.record.total,
      failed: reload.record.failed,
      last: reload.record.last
    },
    errors: counters.errors.slice().reverse(),
    sessions: null
  }
}
