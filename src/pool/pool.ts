/**
 * The pool (SPEC §5): N slots, each running one request/response worker
 * after another. This module puts it together and takes the callers:
 * submit and cancel, the drain and the stop. The parts have their own
 * modules: one worker's life (worker.ts, spawn.ts, end.ts), the slots on
 * the keeper (slots.ts), the failed pool (health.ts), recycling
 * (recycling.ts), the queue and dispatch (queue.ts, dispatch.ts), the view
 * (view.ts), options and defaults (options.ts), the `req` frame
 * (request.ts), the pool's public face (api.ts).
 *
 * - An interrupted caller's request is cancelled: dropped from the queue, or
 *   a `cancel` frame to its worker (whose answer is then discarded); a worker
 *   that does not answer within `cancelGrace` is recycled.
 * - Every accepted request gets exactly one answer.
 *
 * Every fiber is the pool's: the keepers and the sweep run in its `FiberSet`,
 * and what a callback logs goes through a runtime taken from that set, so it
 * reaches the caller's logger and ends with the pool's scope. Time comes from
 * Effect's `Clock`.
 */
import { Cause, Clock, Deferred, Effect, Fiber, FiberSet, Queue as Q, Random, Schema, type Scope, Stream } from "effect"
import type { Severity } from "effect/LogLevel"
import { InvalidOptions } from "../errors.ts"
import * as Alarm from "../internal/alarm.ts"
import * as Keeper from "../internal/keeper.ts"
import * as Trace from "../internal/trace.ts"
import { decodeOptions } from "../internal/options.ts"
import * as RestartPolicy from "../internal/restart-policy.ts"
import { Histogram } from "../status/counters.ts"
import { RateWindow } from "../status/rates.ts"
import { Dispatch } from "./dispatch.ts"
import type { RecycleReason } from "./end.ts"
import { Busy, type PoolError, PoolFailed, Protocol, ShuttingDown } from "./errors.ts"
import type { SpawnFailed } from "../supervisor/errors.ts"
import { Health } from "./health.ts"
import { PoolOptions, settings as settingsOf } from "./options.ts"
import { Queue } from "./queue.ts"
import { groupRssMb } from "./memory.ts"
import { sweeper } from "./recycling.ts"
import { Reload } from "./reload.ts"
import { type Answer, reqFrame, type Request, RequestTrace, type StreamSink } from "./request.ts"
import { makeSlot, type Slot, slotKeeper } from "./slots.ts"
import * as Successor from "./successor.ts"
import * as View from "./view.ts"
import type { Worker, WorkerHost } from "./worker.ts"

export type { SlotState } from "./end.ts"
export type { Answer } from "./request.ts"
import type { CallOptions, Pool, PoolHooks, StreamOptions, StreamPart } from "./api.ts"
export type { CallOptions, Pool, PoolHooks, StreamOptions, StreamPart } from "./api.ts"
export { PoolOptions } from "./options.ts"
export type { PoolCounters } from "./view.ts"

/** Recent errors kept for the status document. */
const RECENT = 20

/** Latency buckets in seconds, 1 ms to ~30 s. */
const latencyBuckets = () => new Histogram([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])

export const make = (
  input: Schema.Codec.Encoded<typeof PoolOptions> | PoolOptions,
  hooks: PoolHooks = {}
): Effect.Effect<Pool, InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = settingsOf(yield* decodeOptions(PoolOptions, input, (i) => new InvalidOptions(i)))
    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()

    // every fiber of the pool, and the runtime its callbacks log through (the caller's logger)
    const fibers = yield* FiberSet.make()
    const runOwned = yield* FiberSet.runtime(fibers)<never>()
    const log = (level: Severity, message: string, w: Worker) => {
      runOwned(Effect.logWithLevel(level)(message).pipe(Effect.annotateLogs({ worker: w.slot, pid: w.child.pid })))
    }

    const random = yield* Random.Random
    const slots = Array.from({ length: settings.maxWorkers }, (_, i) => makeSlot(i + 1))
    /** Each slot's current worker, from its spawn until its process is gone. */
    const workers: Array<Worker | undefined> = new Array(settings.maxWorkers).fill(undefined)
    const queue = new Queue(settings.maxQueue)
    const dispatch = new Dispatch(workers, queue)
    const health = new Health(settings.windowMs)
    const restarts = new Keeper.RestartLog()
    const intensity = yield* RestartPolicy.intensity({ maxRestarts: settings.maxRestarts, windowMs: settings.windowMs })
    const counters: View.PoolCounters = {
      answers: new Map(),
      latency: latencyBuckets(),
      recycles: new Map(),
      sizing: { up: 0, down: 0, last: null },
      requests: new RateWindow(now()),
      errors: []
    }
    let nextId = 1
    let serial = 0
    let generation = 1
    let closing = false
    /** The workers are being stopped: nothing is served any more. */
    let stopped = false
    const state: View.PoolState = {
      startedAt: now(),
      slots,
      workers,
      queue,
      health,
      restarts,
      counters,
      stopping: () => closing,
      elastic: settings.elastic ? { min: settings.minWorkers, max: settings.maxWorkers } : undefined,
      generation: () => generation,
      reload: () => reloads
    }

    // ── answers ──────────────────────────────────────────────────────────
    const finish = (req: Request, answer: Answer) => {
      if (req.state === "done") return
      req.state = "done"
      req.frame = undefined
      req.trace?.finished(answer)
      const at = now()
      const ms = at - req.acceptedAt
      const outcome = "ok" in answer ? "ok" : answer._tag
      counters.requests.observe(ms, at)
      counters.answers.set(outcome, (counters.answers.get(outcome) ?? 0) + 1)
      counters.latency.observe(ms / 1000)
      if (!("ok" in answer)) {
        counters.errors.push({ at, tag: answer._tag, message: answer.message })
        if (counters.errors.length > RECENT) counters.errors.shift()
      }
      hooks.onAnswer?.(req.id, outcome, ms)
      req.answer(answer)
      if (quiet !== undefined) settled()
    }

    /** `queueTimeout`: requests that waited that long get `Busy` (the oldest wait first). */
    const queueAlarm = yield* Alarm.make((at) => {
      for (;;) {
        const head = queue.peek()
        if (head === undefined) return
        const due = head.acceptedAt + settings.queueMs
        if (due > at) return queueAlarm.at(due)
        queue.take()
        finish(head, new Busy({ queued: queue.size, waitedMs: at - head.acceptedAt }))
      }
    })

    const drainQueue = (error: PoolError) => {
      for (const req of queue.drain()) finish(req, error)
    }

    /** While draining: done once nothing waits and nothing runs. */
    let quiet: Deferred.Deferred<void> | undefined = undefined
    const settled = () => {
      if (quiet === undefined || queue.size > 0) return
      for (const w of holders()) if (w.running.size > 0) return
      Deferred.doneUnsafe(quiet, Effect.void)
    }

    /** Every worker that may hold requests: each slot's, and the old ones finishing after a successor took over. */
    const holders = (): Array<Worker> => {
      const out: Array<Worker> = []
      for (const w of workers) if (w !== undefined) out.push(w)
      for (const slot of slots) if (slot.outgoing !== undefined) out.push(slot.outgoing)
      return out
    }

    // ── failed, and healthy again ────────────────────────────────────────
    const fail = (reason: string) =>
      Effect.gen(function*() {
        if (health.failure !== undefined) return
        const error = new PoolFailed({ reason })
        yield* Effect.logError(`${error.message}; one worker is tried again in ${settings.windowMs} ms`)
        health.fail(error, now())
        Deferred.doneUnsafe(firstReady, Effect.fail(error))
        drainQueue(error)
          for (const w of workers) w?.retire("poolFailed", "the pool failed")
        for (const slot of slots) slot.successor?.worker?.retire("poolFailed", "the pool failed")
      })

    const host: WorkerHost = {
      settings,
      stopping: () => closing,
      finish,
      ready: (w) => {
        Deferred.doneUnsafe(firstReady, Effect.void)
        const slot = slots[w.slot - 1]!
        if (Successor.readied(successors, slot, w)) {
          log("Info", `worker ${w.slot} (pid ${w.child.pid}, generation ${w.generation}) is ready and takes over its slot`, w)
        }
        slot.upSince ??= w.readyAt
        slot.growing = false
        if (health.recovered()) log("Info", `the pool is healthy again: worker ${w.slot} (pid ${w.child.pid}) is ready`, w)
        dispatch.pump()
        grow()
      },
      room: () => dispatch.pump(),
      unsent: (req) => {
        if (health.failure !== undefined) return finish(req, health.failure.error)
        if (stopped) return finish(req, new ShuttingDown({ reason: "the pool closed" }))
        queue.putBack(req)
        dispatch.pump()
      },
      recycled: (w, why: RecycleReason, reason) => {
        // workers let go because the pool failed, or to shrink it, are not recycled
        if (why !== "poolFailed" && why !== "scaleDown") counters.recycles.set(why, (counters.recycles.get(why) ?? 0) + 1)
        const how = why === "poolFailed" || why === "scaleDown" ? "letting go of" : why === "reload" ? "reloading" : "recycling"
        log("Info", `${how} worker ${w.slot} (pid ${w.child.pid}): ${reason}`, w)
      },
      exhausted: (w) => recycle(w, "maxJobs", `it took its ${w.maxJobs}th request (maxJobs ${settings.maxJobs}, jittered)`, true),
      jitter: (n) => n * (0.9 + 0.2 * random.nextDoubleUnsafe())
    }

    // ── replacing workers new-first, reloads ─────────────────────────────
    const successors: Successor.SuccessorHost = {
      worker: host,
      workers,
      serial: () => ++serial,
      now,
      restarts,
      failed: () => health.failure !== undefined,
      fork: (effect) => runOwned(effect),
      log: (level, message, slot) => {
        runOwned(Effect.logWithLevel(level)(message).pipe(slot === 0 ? (e) => e : Effect.annotateLogs({ worker: slot })))
      }
    }

    /**
     * `w` is due to be recycled: its slot boots a successor, which takes over
     * once ready. `exhausted` (its last `maxJobs` request taken): it takes
     * nothing new from now on, successor or not.
     */
    const recycle = (w: Worker, why: RecycleReason, reason: string, exhausted = false) => {
      const slot = slots[w.slot - 1]!
      const mine = workers[w.slot - 1] === w
      const can = mine && !closing && health.failure === undefined && !slot.shrinking && slot.successor === undefined &&
        (exhausted || now() >= slot.replaceAfter)
      if (can) Successor.start(successors, slot, why, reason, generation)
      if (exhausted) w.retire(why, reason)
    }

    const reloads = new Reload({
      ...successors,
      slots,
      refusal: () =>
        closing
          ? "the pool is stopping"
          : health.failure !== undefined
          ? `the pool is failed (${health.failure.error.reason}); it tries a worker again by itself`
          : undefined,
      nextGeneration: () => ++generation,
      run: (effect) => void runOwned(effect)
    })

    // ── an elastic pool's size ───────────────────────────────────────────
    const sizeNow = () => {
      let running = 0
      for (const slot of slots) if (slot.active && !slot.shrinking) running++
      return running
    }

    /** Requests wait and fewer than MAX run: one more slot, one boot at a time (SPEC §5 Sizing). */
    const grow = () => {
      if (!settings.elastic || closing || queue.size === 0 || health.failure !== undefined) return
      let running = 0
      for (const slot of slots) {
        if (slot.growing) return
        if (slot.active && !slot.shrinking) running++
      }
      if (running >= settings.maxWorkers) return
      for (const w of workers) if (w !== undefined && w.state === "booting") return
      const slot = slots.find((s) => !s.active)
      if (slot === undefined) return
      const reason = `${queue.size} requests wait and ${running} of ${settings.minWorkers}..${settings.maxWorkers} workers run`
      counters.sizing.up++
      counters.sizing.last = { at: now(), change: "up", workers: running + 1, reason }
      successors.log("Info", `growing the pool: ${reason}; worker ${slot.number} starts`, slot.number)
      activate(slot, true)
    }

    /** `w` has been idle for `idleTtl`: let go while more than MIN run (SPEC §5 Sizing). */
    const scaleDown = (w: Worker) => {
      const slot = slots[w.slot - 1]!
      // a reload holds the pool's size: it never has fewer ready workers than when the reload began
      if (closing || reloads.current !== undefined || workers[w.slot - 1] !== w || slot.successor !== undefined || slot.shrinking) return
      const running = sizeNow()
      if (running <= settings.minWorkers) return
      const reason = `idle for ${settings.idleTtlMs} ms (idleTtl) and ${running} of ${settings.minWorkers}..${settings.maxWorkers} workers run`
      slot.shrinking = true
      counters.sizing.down++
      counters.sizing.last = { at: now(), change: "down", workers: running - 1, reason }
      w.retire("scaleDown", reason)
    }

    // ── the slots, each on its keeper ────────────────────────────────────
    /** Done once a worker was ready, or failed with why none will be. */
    const firstReady = Deferred.makeUnsafe<void, PoolFailed | SpawnFailed>()
    const slotsHost = {
      settings,
      worker: host,
      health,
      workers,
      now,
      serial: () => ++serial,
      generation: () => generation,
      ended: () => grow(),
      stopping: () => closing,
      fail,
      allStopped: () => drainQueue(new ShuttingDown({ reason: "no worker is left: liege is stopping" })),
      cannotSpawn: (error: SpawnFailed) => void Deferred.doneUnsafe(firstReady, Effect.fail(error)),
      slots
    }
    /** The slot becomes part of the pool: its keeper starts its first worker. */
    function activate(slot: Slot, growing: boolean) {
      slot.active = true
      slot.growing = growing
      slot.stopped = false
      runOwned(
        RestartPolicy.backoff({ windowMs: settings.windowMs, firstDelay: 100 }).pipe(
          Effect.flatMap((backoff) => Keeper.keep(slotKeeper(slot, slotsHost), { intensity, backoff, restarts })),
          // a keeper ends when interrupted, when its slot stopped with liege, or when it left an elastic pool;
          // anything else is a defect
          Effect.tapCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logError(`slot ${slot.number} stopped`, cause))
        )
      )
    }
    for (const slot of slots.slice(0, settings.minWorkers)) activate(slot, false)

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

    const sweep = sweeper(settings, workers, now, { recycle, scaleDown, memory: groupRssMb })
    if (sweep !== undefined) yield* FiberSet.run(fibers, sweep)

    // ── callers ──────────────────────────────────────────────────────────
    /** Accepts a request (queued, or given to a worker at once): it, or why it is refused. */
    const accept = (
      payload: unknown,
      text: string | undefined,
      answer: (a: Answer) => void,
      stream: StreamSink | undefined,
      caller: Trace.Caller | string | undefined
    ): Request | PoolError => {
      if (health.failure !== undefined) return health.failure.error
      if (closing) return new ShuttingDown({ reason: "the pool is stopping" })
      const id = nextId++
      const spans = settings.spans && typeof caller === "object"
      const sent = typeof caller === "object" ? (spans ? Trace.placeholder(caller) : caller.traceparent) : caller
      let frame: Buffer
      try {
        frame = reqFrame(settings.codec, id, payload, text, stream, sent)
      } catch (e) {
        return new Protocol({ worker: 0, reason: `the payload cannot be encoded (${(e as Error).message}); nothing was sent` })
      }
      const trace = spans ? new RequestTrace(caller as Trace.Caller, clock, id, frame, sent!) : undefined
      const req: Request = { id, frame, acceptedAt: now(), answer, state: "queued", worker: undefined, deadline: 0, stream, trace }
      if (!dispatch.place(req)) {
        if (queue.full) {
          const busy = new Busy({ queued: queue.size })
          trace?.finished(busy)
          return busy
        }
        queue.push(req)
        if (settings.queueMs > 0) queueAlarm.at(req.acceptedAt + settings.queueMs)
        grow()
      }
      hooks.onAccept?.(id)
      return req
    }

    const submit = (payload: unknown) =>
      Effect.callback<unknown, PoolError>((resume) => {
        const fiber = Fiber.getCurrent()
        const caller = fiber === undefined ? undefined : Trace.callerOf(fiber)
        const req = accept(payload, undefined, (a) => resume("ok" in a ? Effect.succeed(a.ok) : Effect.fail(a)), undefined, caller)
        if (!("id" in req)) return resume(Effect.fail(req))
        return Effect.sync(() => cancel(req))
      })

    const call = (payload: unknown, done: (answer: Answer) => void, options?: CallOptions): (() => void) | PoolError => {
      const req = accept(payload, options?.text, done, undefined, options?.traceparent)
      if (!("id" in req)) return req
      return () => cancel(req)
    }

    const stream = (payload: unknown, options?: StreamOptions): Stream.Stream<StreamPart, PoolError> =>
      Stream.unwrap(Effect.gen(function*() {
        const credit = options?.credit ?? 16
        if (!Number.isSafeInteger(credit) || credit < 1) {
          return yield* Effect.die(new InvalidOptions({ field: "credit", reason: `expected a whole number of chunks, at least 1, got ${credit}` }))
        }
        // never more in it than the credit outstanding (and the end)
        const parts = yield* Q.bounded<StreamPart, PoolError | Cause.Done>(credit + 1)
        const sink: StreamSink = {
          granted: credit,
          received: 0,
          chunk: (data) => void Q.offerUnsafe(parts, { _tag: "Chunk", data })
        }
        const caller = Trace.callerOf(Fiber.getCurrent()!)
        const req = accept(payload, undefined, (a) => {
          if (!("ok" in a)) return void Q.failCauseUnsafe(parts, Cause.fail(a))
          Q.offerUnsafe(parts, { _tag: "Done", value: a.ok })
          Q.endUnsafe(parts)
        }, sink, caller)
        if (!("id" in req)) return Stream.fail(req)
        // the consumer ended the stream early (or was interrupted): the request is cancelled
        yield* Effect.addFinalizer(() => Effect.sync(() => cancel(req)))
        /** Chunks taken since the last grant: granted back in halves of the credit. */
        let taken = 0
        return Stream.fromQueue(parts).pipe(Stream.tap((part) =>
          Effect.sync(() => {
            if (part._tag !== "Chunk" || ++taken < Math.ceil(credit / 2)) return
            req.worker?.credit(req, taken)
            taken = 0
          })
        ))
      }))

    const cancel = (req: Request) => {
      if (req.state === "queued" || req.state === "running") req.trace?.finished(Trace.interrupted)
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
        for (const w of holders()) for (const req of [...w.running.values()]) finish(req, late)
        yield* stopAll
      })

    const view = () => View.view(state, now())
    return {
      submit,
      call,
      stream,
      ready: () => View.readiness(state, now()).ready,
      readiness: () => View.readiness(state, now()),
      view,
      status: Effect.sync(view),
      counters,
      pids: () => [
        ...holders().filter(View.live),
        ...slots.flatMap((s) => s.successor?.worker === undefined || s.successor.worker.end !== undefined ? [] : [s.successor.worker])
      ].map((w) => w.child.pid),
      failed: health.failed,
      reload: reloads.reload,
      whenReady: Deferred.await(firstReady),
      shutdown
    } satisfies Pool
  })
