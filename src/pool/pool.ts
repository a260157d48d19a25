/**
 * The pool (SPEC §5): N slots, each running one request/response worker
 * after another. This module puts it together — options, the slots' keepers,
 * the failed state, submit and cancel, the drain and the stop; one worker's
 * life is `worker.ts`, the queue and dispatch are `queue.ts` and
 * `dispatch.ts`.
 *
 * - Each slot's keeper runs a worker, and when it ends starts the next: at
 *   once if it was let go or killed, after the slot's backoff if it died or
 *   failed. The backoff starts again from its first step once the slot's
 *   worker has been ready for `restartWindow`.
 * - One intensity window for the pool: more than `maxRestarts` failures (a
 *   failed boot, a protocol break, a death with nothing in flight) within
 *   `restartWindow` fail the pool: every waiting request, and every request
 *   while it stays failed, gets `PoolFailed` at once. After a cool-down of
 *   `restartWindow` slot 1 tries one worker: once it is ready the pool is
 *   healthy again and every slot is refilled; if not, another cool-down.
 * - `execTimeout` fails the request with `Timeout` and replaces the worker;
 *   recycling (`maxJobs`, `maxMemoryMb`, `ttl`, `idleTtl`) lets a worker go
 *   between requests. Neither counts.
 * - An interrupted caller's request is cancelled: dropped from the queue, or
 *   a `cancel` frame to its worker (whose answer is then discarded); a worker
 *   that does not answer within `cancelGrace` is recycled.
 * - Every accepted request gets exactly one answer.
 *
 * Every fiber is the pool's: the keepers and the sweep run in its `FiberSet`,
 * and what a callback logs goes through a runtime taken from that set, so it
 * reaches the caller's logger and ends with the pool's scope.
 */
import * as fs from "node:fs"
import { availableParallelism } from "node:os"
import { Cause, Clock, Context, Deferred, Duration, Effect, FiberSet, Layer, Schema, type Scope } from "effect"
import type { Severity } from "effect/LogLevel"
import { decodeOptions, DurationInput, toMillis } from "../internal/options.ts"
import * as RestartPolicy from "../internal/restart-policy.ts"
import { WorkerFields } from "../internal/worker.ts"
import { InvalidOptions } from "../errors.ts"
import * as Status from "../status/document.ts"
import { RateWindow } from "../status/rates.ts"
import { type CodecName, codec as codecOf } from "../wire/codec.ts"
import { Dispatch } from "./dispatch.ts"
import { Busy, PoolFailed, type PoolError, Protocol, ShuttingDown } from "./errors.ts"
import { Queue } from "./queue.ts"
import type { Answer, Request } from "./request.ts"
import { backsOff, counts, type End, type Ran, type RecycleReason, run, type SlotState, type Worker, type WorkerHost } from "./worker.ts"

export type { SlotState } from "./worker.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const PoolOptions = Schema.Struct({
  ...WorkerFields,
  /** Slots (default: the CPU count). */
  workers: Schema.optional(PositiveInt),
  /** Requests pipelined to one worker (default 1). */
  maxInFlight: Schema.optional(PositiveInt),
  /** The ready handshake limit (default 10 s). */
  bootTimeout: Schema.optional(DurationInput),
  /** Per request (default 30 s); the worker is replaced. */
  execTimeout: Schema.optional(DurationInput),
  /** Recycle after this many jobs (0: never). */
  maxJobs: Schema.optional(Count),
  /** Recycle above this resident size in MiB (0: never). */
  maxMemoryMb: Schema.optional(Count),
  /** Recycle by age. */
  ttl: Schema.optional(DurationInput),
  /** Recycle a worker idle this long (once it has served). */
  idleTtl: Schema.optional(DurationInput),
  /** Waiting requests before `Busy` (default 1024). */
  maxQueue: Schema.optional(Count),
  /** Failures tolerated within `restartWindow` (default 10 in 60 s); also the failed pool's cool-down and the backoff's reset. */
  maxRestarts: Schema.optional(Count),
  restartWindow: Schema.optional(DurationInput),
  /** The workers' escalation windows (default 5 s). */
  grace: Schema.optional(DurationInput),
  /** After a `cancel`, how long a worker may take to let go (default 1 s). */
  cancelGrace: Schema.optional(DurationInput)
})
export type PoolOptions = typeof PoolOptions.Type

export interface PoolStats {
  readonly workers: number
  readonly ready: number
  readonly busy: number
  /** Ready workers that could take one more request. */
  readonly withRoom: number
  readonly inFlight: number
  readonly queued: number
  /** Workers replaced because they died or failed (not the ones let go or killed). */
  readonly restarts: number
  readonly recycles: number
  readonly answered: number
  readonly failed: boolean
}

/** One slot, as a status page shows it. */
export interface SlotSnapshot {
  /** 1-based: the worker's `LIEGE_WORKER_ID`, and `worker` in errors and log lines. */
  readonly slot: number
  /** Which worker of the pool runs in it (1 for the first one spawned), if any. */
  readonly worker: number | undefined
  readonly pid: number | undefined
  readonly state: SlotState
  /** When `restarting`: the time (epoch ms) of the next try. */
  readonly nextTryAt: number | undefined
  /** Requests running on its worker. */
  readonly inFlight: number
  /** Jobs its worker has served. */
  readonly jobs: number
  /** When its worker was spawned, and when it became ready (epoch ms). */
  readonly startedAt: number | undefined
  readonly readyAt: number | undefined
  /** How its last worker ended, when, and why. */
  readonly lastExit: {
    readonly at: number
    readonly end: End["_tag"]
    readonly reason: string
    readonly code: number | null
    readonly signal: string | null
  } | undefined
}

export interface PoolSnapshot {
  /** Requests waiting for a worker. */
  readonly queued: number
  /** Set while the pool is failed: why, since when, and when it tries a worker again (epoch ms). */
  readonly failed: { readonly reason: string; readonly since: number; readonly nextTryAt: number } | undefined
  readonly slots: ReadonlyArray<SlotSnapshot>
}

export interface PoolHooks {
  /** A request was accepted (queued or sent), under this id. */
  readonly onAccept?: ((id: number) => void) | undefined
  /** Every answer: the request, its outcome ("ok" or an error tag), the time since acceptance in ms. */
  readonly onAnswer?: ((id: number, outcome: string, ms: number) => void) | undefined
  /** The caller left before the answer: the request was dropped from the queue or cancelled on its worker. */
  readonly onCancel?: ((id: number) => void) | undefined
}

export interface Pool {
  /** One request: the worker's `ok` value, or a tagged error. */
  readonly submit: (payload: unknown) => Effect.Effect<unknown, PoolError>
  /** At least one worker is ready and the pool has not failed. */
  readonly ready: () => boolean
  /** `ready`, or why not (the failed pool's next try, workers booting): SPEC §8 `/readyz`. */
  readonly readiness: () => Status.Readiness
  readonly stats: () => PoolStats
  /** Each slot and the queue, now (cheap, synchronous). */
  readonly inspect: () => PoolSnapshot
  /** The status document (SPEC §10): slots, queue, rates, restarts, recycles, recent errors. */
  readonly status: Effect.Effect<Status.PoolStatus>
  /** The live workers' pids (for tests and diagnostics). */
  readonly pids: () => ReadonlyArray<number>
  /** Completes when the pool is failed: at once if it is now, else at its next failure. */
  readonly failed: Effect.Effect<PoolFailed>
  /**
   * Stops taking requests, answers those accepted within `drainMs` (the rest
   * get `ShuttingDown`), then stops every worker, in parallel.
   */
  readonly shutdown: (drainMs: number) => Effect.Effect<void>
}

interface Slot {
  /** 1-based. */
  readonly number: number
  /** Set while it waits to start its next worker. */
  nextTryAt: number | undefined
  lastExit: SlotSnapshot["lastExit"]
  /** Since when its workers have been serving without dying or failing (for the backoff's reset). */
  upSince: number | undefined
  /** Its worker ended while liege was stopping: it stays empty. */
  stopped: boolean
}

interface Failure {
  readonly error: PoolFailed
  readonly since: number
  nextTryAt: number
}

/** Recent errors kept for the status document. */
const RECENT = 20

const sum = (m: Map<string, number>) => {
  let n = 0
  for (const v of m.values()) n += v
  return n
}

/** A restart's reason, as the status document counts them. */
const restartReason = (end: End): string =>
  end._tag === "Died" ? "died serving" : end._tag === "Failed" ? (end.kind === "idle" ? "died idle" : end.kind) : end._tag

const readRssMb = (pid: number): number | undefined => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "latin1"))
    return m === null ? undefined : Number(m[1]) / 1024
  } catch {
    return undefined
  }
}

export const make = (
  input: Schema.Codec.Encoded<typeof PoolOptions> | PoolOptions,
  hooks: PoolHooks = {}
): Effect.Effect<Pool, InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const o = yield* decodeOptions(PoolOptions, input, (i) => new InvalidOptions(i))
    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()
    const size = o.workers ?? availableParallelism()
    const maxInFlight = o.maxInFlight ?? 1
    const maxJobs = o.maxJobs ?? 0
    const maxMemoryMb = o.maxMemoryMb ?? 0
    const ttlMs = o.ttl === undefined ? 0 : toMillis(o.ttl)
    const idleTtlMs = o.idleTtl === undefined ? 0 : toMillis(o.idleTtl)
    const maxRestarts = o.maxRestarts ?? 10
    const windowMs = toMillis(o.restartWindow ?? 60_000)
    const codecName: CodecName = o.codec ?? "json"
    const codec = codecOf(codecName)
    const spec = {
      command: o.command,
      args: o.args ?? [],
      env: o.env,
      cwd: o.cwd,
      codecName,
      codec,
      maxFrameBytes: o.maxFrameBytes,
      graceMs: toMillis(o.grace ?? 5000)
    }

    // every fiber of the pool, and the runtime its callbacks log through (the caller's logger)
    const fibers = yield* FiberSet.make()
    const runOwned = yield* FiberSet.runtime(fibers)<never>()
    const log = (level: Severity, message: string, w: Worker) => {
      runOwned(Effect.logWithLevel(level)(message).pipe(Effect.annotateLogs({ worker: w.slot, pid: w.child.pid })))
    }

    const slots: Array<Slot> = Array.from({ length: size }, (_, i) => ({
      number: i + 1,
      nextTryAt: undefined,
      lastExit: undefined,
      upSince: undefined,
      stopped: false
    }))
    /** Each slot's current worker, from its spawn until its process is gone. */
    const workers: Array<Worker | undefined> = new Array(size).fill(undefined)
    const queue = new Queue(o.maxQueue ?? 1024)
    const dispatch = new Dispatch(workers, queue)
    const intensity = yield* RestartPolicy.intensity({ maxRestarts, windowMs })
    let nextId = 1
    let serial = 0
    let closing = false
    /** The workers are being stopped: nothing is served any more. */
    let stopped = false
    let failure: Failure | undefined = undefined
    let failedSignal = Deferred.makeUnsafe<PoolFailed>()
    /** Completed while the pool is not failed: the slots but the first wait on it. */
    let healthy = Deferred.makeUnsafe<void>()
    Deferred.doneUnsafe(healthy, Effect.void)
    const stats = { answered: 0 }
    // for the status document: nothing here costs more than a counter on the hot path
    const startedAt = now()
    const requestRates = new RateWindow(startedAt)
    const recentErrors: Array<Status.RecentError> = []
    const restartReasons = new Map<string, number>()
    const recycleReasons = new Map<string, number>()
    const bump = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1)

    // ── answers ──────────────────────────────────────────────────────────
    const finish = (req: Request, answer: Answer) => {
      if (req.state === "done") return
      req.state = "done"
      req.frame = undefined
      stats.answered++
      const at = now()
      requestRates.observe(at - req.acceptedAt, at)
      if (!("ok" in answer)) {
        recentErrors.push({ at, tag: answer._tag, message: answer.message })
        if (recentErrors.length > RECENT) recentErrors.shift()
      }
      hooks.onAnswer?.(req.id, "ok" in answer ? "ok" : answer._tag, at - req.acceptedAt)
      req.answer(answer)
      if (quiet !== undefined) settled()
    }

    const drainQueue = (error: PoolError) => {
      for (const req of queue.drain()) finish(req, error)
    }

    /** While draining: done once nothing waits and nothing runs. */
    let quiet: Deferred.Deferred<void> | undefined = undefined
    const settled = () => {
      if (quiet === undefined || queue.size > 0) return
      for (const w of workers) if (w !== undefined && w.running.size > 0) return
      Deferred.doneUnsafe(quiet, Effect.void)
    }

    // ── failed, and healthy again ────────────────────────────────────────
    const failPool = (reason: string) =>
      Effect.gen(function*() {
        if (failure !== undefined) return
        const at = now()
        const error = new PoolFailed({ reason })
        failure = { error, since: at, nextTryAt: at + windowMs }
        healthy = Deferred.makeUnsafe()
        yield* Effect.logError(`${error.message}; one worker is tried again in ${windowMs} ms`)
        for (const req of queue.drain()) finish(req, error)
        for (const w of workers) w?.retire("poolFailed", "the pool failed")
        Deferred.doneUnsafe(failedSignal, Effect.succeed(error))
      })

    /** A worker got ready while the pool was failed (slot 1's try): it is healthy again. */
    const recover = (w: Worker) => {
      if (failure === undefined) return
      failure = undefined
      failedSignal = Deferred.makeUnsafe()
      Deferred.doneUnsafe(healthy, Effect.void)
      log("Info", `the pool is healthy again: worker ${w.slot} (pid ${w.child.pid}) is ready`, w)
    }

    const host: WorkerHost = {
      maxInFlight,
      maxJobs,
      bootMs: toMillis(o.bootTimeout ?? 10_000),
      execMs: toMillis(o.execTimeout ?? 30_000),
      cancelGraceMs: toMillis(o.cancelGrace ?? 1000),
      heartbeatMs: o.heartbeat === undefined ? 0 : toMillis(o.heartbeat),
      stopping: () => closing,
      finish,
      ready: (w) => {
        const slot = slots[w.slot - 1]!
        slot.upSince ??= w.readyAt
        recover(w)
        dispatch.pump()
      },
      room: () => dispatch.pump(),
      unsent: (req) => {
        if (failure !== undefined) return finish(req, failure.error)
        if (stopped) return finish(req, new ShuttingDown({ reason: "the pool closed" }))
        queue.putBack(req)
        dispatch.pump()
      },
      recycled: (w, why: RecycleReason, reason) => {
        // workers let go because the pool failed are not recycled: the failure is the count
        if (why !== "poolFailed") bump(recycleReasons, why)
        log("Info", `${why === "poolFailed" ? "letting go of" : "recycling"} worker ${w.slot} (pid ${w.child.pid}): ${reason}`, w)
      }
    }

    // ── the slots ────────────────────────────────────────────────────────
    const runIn = (slot: Slot): Effect.Effect<Ran> =>
      run(slot.number, ++serial, spec, host, (w) => {
        workers[slot.number - 1] = w
      }).pipe(
        Effect.tap((ran) =>
          Effect.sync(() => {
            slot.lastExit = {
              at: ran.endedAt,
              end: ran.end._tag,
              reason: ran.end.reason,
              code: ran.exit?.code ?? null,
              signal: ran.exit?.signal ?? null
            }
          })
        ),
        Effect.ensuring(Effect.sync(() => {
          workers[slot.number - 1] = undefined
        }))
      )

    /** Keeps `slot` filled until the pool closes (its scope, or `shutdown`, interrupts the keepers). */
    const keep = (slot: Slot) =>
      Effect.gen(function*() {
        const backoff = yield* RestartPolicy.backoff({ windowMs, firstDelay: 100 })
        for (;;) {
          if (failure !== undefined) {
            // failed: slot 1 tries one worker after the cool-down, the others wait until that one is ready
            slot.nextTryAt = failure.nextTryAt
            if (slot.number !== 1) {
              yield* Deferred.await(healthy)
              continue
            }
            yield* Effect.sleep(Math.max(0, failure.nextTryAt - now()))
          }
          slot.nextTryAt = undefined
          const trying = failure !== undefined
          const ran = yield* runIn(slot)
          const end = ran.end
          if (failure !== undefined) {
            // an end while failed: a worker let go when the pool failed, or a try that did not get ready
            if (trying && ran.readyAt === undefined) {
              bump(restartReasons, restartReason(end))
              failure.nextTryAt = now() + windowMs
              yield* Effect.logWarning(`the pool is still failed: worker ${slot.number} ${end.reason}; next try in ${windowMs} ms`)
            }
            continue
          }
          if (end._tag === "Killed") {
            yield* Effect.logWarning(`killed worker ${slot.number} (pid ${ran.pid}): ${end.reason}; a new one starts`).pipe(
              Effect.annotateLogs({ worker: slot.number })
            )
          }
          if (!backsOff(end)) continue // let go or killed: the next one starts at once
          if (closing) {
            // liege is stopping (a service manager may have signalled the whole group): not a restart
            yield* Effect.logInfo(`worker ${slot.number} (pid ${ran.pid}) ended while liege was stopping (${end.reason}); not restarted`).pipe(
              Effect.annotateLogs({ worker: slot.number })
            )
            slot.stopped = true
            if (slots.every((s) => s.stopped)) drainQueue(new ShuttingDown({ reason: "no worker is left: liege is stopping" }))
            return
          }
          bump(restartReasons, restartReason(end))
          const { exceeded, failures } = yield* intensity.record(counts(end))
          if (exceeded) {
            yield* failPool(`${failures} worker failures within ${windowMs} ms (last: worker ${slot.number}: ${end.reason})`)
            continue
          }
          const upMs = slot.upSince === undefined ? 0 : ran.endedAt - slot.upSince
          slot.upSince = undefined
          const delay = Math.round(Duration.toMillis(yield* backoff.next({ upMs })))
          slot.nextTryAt = now() + delay
          yield* Effect.logWarning(
            `worker ${slot.number} ${end._tag === "Died" ? "died" : "failed"} (${end.reason}); restarting in ${delay} ms`
          ).pipe(Effect.annotateLogs({ worker: slot.number }))
          yield* Effect.sleep(delay)
        }
      })

    for (const slot of slots) {
      yield* FiberSet.run(
        fibers,
        keep(slot).pipe(
          // a keeper only ends when interrupted; anything else is a defect, and its slot stays empty
          Effect.tapCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logError(`slot ${slot.number} stopped`, cause))
        )
      )
    }

    // Every slot stops at once: N stuck workers cost one escalation, not N.
    const stopAll = Effect.suspend(() => {
      closing = true
      stopped = true
      drainQueue(new ShuttingDown({ reason: "the pool closed" }))
      return FiberSet.clear(fibers).pipe(
        // a request put back while the workers stopped
        Effect.andThen(Effect.sync(() => drainQueue(new ShuttingDown({ reason: "the pool closed" }))))
      )
    })
    yield* Effect.addFinalizer(() => stopAll)

    // ── recycling by age, idleness and memory ────────────────────────────
    if (ttlMs > 0 || idleTtlMs > 0 || maxMemoryMb > 0) {
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
      yield* FiberSet.run(fibers, Effect.forever(Effect.andThen(Effect.sleep(every), sweep)))
    }

    // ── callers ──────────────────────────────────────────────────────────
    const submit = (payload: unknown) =>
      Effect.callback<unknown, PoolError>((resume) => {
        if (failure !== undefined) return resume(Effect.fail(failure.error))
        if (closing) return resume(Effect.fail(new ShuttingDown({ reason: "the pool is stopping" })))
        const id = nextId++
        let frame: Buffer
        try {
          frame = codec.frame({ t: "req", id, payload })
        } catch (e) {
          return resume(Effect.fail(new Protocol({ worker: 0, reason: `the payload cannot be encoded (${(e as Error).message}); nothing was sent` })))
        }
        const req: Request = {
          id,
          frame,
          acceptedAt: now(),
          answer: (a) => resume("ok" in a ? Effect.succeed(a.ok) : Effect.fail(a)),
          state: "queued",
          worker: undefined,
          deadline: 0
        }
        if (!dispatch.place(req)) {
          if (queue.full) return resume(Effect.fail(new Busy({ queued: queue.size })))
          queue.push(req)
        }
        hooks.onAccept?.(id)
        return Effect.sync(() => cancel(req))
      })

    const cancel = (req: Request) => {
      if (req.state === "queued") {
        queue.cancel(req)
        hooks.onCancel?.(req.id)
        return settled()
      }
      const w = req.worker
      if (req.state !== "running" || w === undefined) return
      req.state = "done"
      hooks.onCancel?.(req.id)
      w.cancel(req)
      settled()
    }

    const shutdown = (drainMs: number) =>
      Effect.gen(function*() {
        if (closing) return
        closing = true
        quiet = Deferred.makeUnsafe()
        settled()
        yield* Effect.timeoutOption(Deferred.await(quiet), drainMs)
        const late = new ShuttingDown({ reason: `not answered within the drain window (${drainMs} ms)` })
        drainQueue(late)
        for (const w of workers) if (w !== undefined) for (const req of [...w.running.values()]) finish(req, late)
        yield* stopAll
      })

    const live = (w: Worker | undefined): w is Worker => w !== undefined && w.end === undefined
    const serving = (w: Worker) => w.state === "ready" || w.state === "busy"

    const readiness = (): Status.Readiness => {
      if (closing) return Status.notReady("the pool is stopping")
      if (failure !== undefined) {
        const inS = Math.max(0, Math.ceil((failure.nextTryAt - now()) / 1000))
        return Status.notReady(`the pool failed (${failure.error.reason}); it tries one worker again in ${inS} s`)
      }
      let booting = 0
      for (const w of workers) {
        if (!live(w)) continue
        if (serving(w)) return Status.Ready
        if (w.state === "booting") booting++
      }
      const restarting = slots.filter((s) => workers[s.number - 1] === undefined && s.nextTryAt !== undefined).length
      return Status.notReady(`no worker is ready yet (${booting} booting, ${restarting} restarting)`)
    }

    return {
      submit,
      ready: () => readiness().ready,
      readiness,
      stats: () => {
        let ready = 0
        let busy = 0
        let withRoom = 0
        let inFlight = 0
        for (const w of workers) {
          if (!live(w)) continue
          if (serving(w)) ready++
          if (w.load > 0) busy++
          if (w.hasRoom()) withRoom++
          inFlight += w.running.size
        }
        return {
          workers: size,
          ready,
          busy,
          withRoom,
          inFlight,
          queued: queue.size,
          restarts: sum(restartReasons),
          recycles: sum(recycleReasons),
          answered: stats.answered,
          failed: failure !== undefined
        }
      },
      inspect: () => ({
        queued: queue.size,
        failed: failure === undefined ? undefined : { reason: failure.error.reason, since: failure.since, nextTryAt: failure.nextTryAt },
        slots: slots.map((slot): SlotSnapshot => {
          const w = workers[slot.number - 1]
          return {
            slot: slot.number,
            worker: w?.serial,
            pid: w?.child.pid,
            state: w !== undefined ? w.state : slot.nextTryAt !== undefined ? "restarting" : "booting",
            nextTryAt: w === undefined ? slot.nextTryAt : undefined,
            inFlight: w?.running.size ?? 0,
            jobs: w?.jobs ?? 0,
            startedAt: w?.startedAt,
            readyAt: w?.readyAt,
            lastExit: slot.lastExit
          }
        })
      }),
      status: Effect.sync((): Status.PoolStatus => {
        const at = now()
        return {
          kind: "pool",
          now: at,
          startedAt,
          healthy: failure === undefined && workers.some((w) => live(w) && serving(w)),
          failed: failure === undefined ? null : { reason: failure.error.reason, since: failure.since, retryAt: failure.nextTryAt },
          workers: slots.map((slot): Status.Slot => {
            const w = workers[slot.number - 1]
            const rss = w === undefined ? undefined : readRssMb(w.child.pid)
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
              lastExit: slot.lastExit === undefined
                ? null
                : { at: slot.lastExit.at, reason: slot.lastExit.reason, code: slot.lastExit.code, signal: slot.lastExit.signal }
            }
          }),
          queue: { depth: queue.size, max: queue.max },
          requests: requestRates.snapshot(at),
          restarts: { total: sum(restartReasons), byReason: Object.fromEntries(restartReasons) },
          recycles: { total: sum(recycleReasons), byReason: Object.fromEntries(recycleReasons) },
          errors: recentErrors.slice().reverse(),
          sessions: null
        }
      }),
      pids: () => workers.filter(live).map((w) => w.child.pid),
      failed: Effect.suspend(() => failure !== undefined ? Effect.succeed(failure.error) : Deferred.await(failedSignal)),
      shutdown
    } satisfies Pool
  })

/** The pool as a service: `Pool.Service.layer(options)`. */
export class Service extends Context.Service<Service, Pool>()("liege/pool/Pool") {
  static readonly layer = (options: Schema.Codec.Encoded<typeof PoolOptions> | PoolOptions, hooks?: PoolHooks) =>
    Layer.effect(Service, make(options, hooks))
}
