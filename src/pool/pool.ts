/**
 * The pool (SPEC §5): N slots, each running one request/response worker
 * after another under the supervisor.
 *
 * - A worker is ready once its `ready` frame arrives within `bootTimeout`;
 *   a failed boot, a crash or a protocol break restarts the slot after a
 *   capped, jittered exponential backoff and counts as a restart; more than
 *   `maxRestarts` in `restartWindow` fails the pool (`PoolFailed` for every
 *   waiting and later request).
 * - Dispatch is synchronous and central: a request goes to the least loaded
 *   ready worker with room (an idle one first), else waits in a bounded FIFO
 *   (`maxQueue`; full → `Busy` at once); a worker with room takes the head of
 *   the queue. Up to `maxInFlight` requests are pipelined to one worker,
 *   answers matched by id.
 * - `execTimeout` fails the request with `Timeout` and replaces the worker.
 *   Recycling (`maxJobs`, `maxMemoryMb`, `ttl`, `idleTtl`) retires a worker:
 *   it takes nothing new, finishes what it holds, leaves on stdin EOF, and a
 *   fresh one takes its slot — no request is lost.
 * - An interrupted caller's request is cancelled: dropped from the queue, or
 *   a `cancel` frame to its worker (whose answer is then discarded); a worker
 *   that does not answer within `cancelGrace` is recycled.
 * - Every accepted request gets exactly one answer.
 */
import * as fs from "node:fs"
import { availableParallelism } from "node:os"
import { Context, Deferred, Effect, Fiber, Layer, Schema, type Scope } from "effect"
import { Deque } from "../internal/deque.ts"
import { decodeOptions, DurationInput, toMillis } from "../internal/options.ts"
import { WorkerFields, workerEnv } from "../internal/worker.ts"
import { type Child, spawn } from "../supervisor/child.ts"
import { InvalidOptions } from "../errors.ts"
import type { Result } from "../supervisor/result.ts"
import { type CodecName, codec as codecOf } from "../wire/codec.ts"
import { attach, type Link } from "../wire/link.ts"
import { Application, Busy, Io, PoolFailed, type PoolError, Protocol, ShuttingDown, Timeout, WorkerDied } from "./errors.ts"
import { checkReady, checkRes, PROTOCOL_VERSION } from "./protocol.ts"

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
  /** Restarts tolerated within `restartWindow` (default 10 in 60 s). */
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
  readonly restarts: number
  readonly recycles: number
  readonly answered: number
  readonly failed: boolean
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
  readonly stats: () => PoolStats
  /** The live workers' pids (for tests and diagnostics). */
  readonly pids: () => ReadonlyArray<number>
  /** Completes if the pool fails. */
  readonly failed: Effect.Effect<PoolFailed>
  /**
   * Stops taking requests, answers those accepted within `drainMs` (the rest
   * get `ShuttingDown`), then stops every worker, in parallel.
   */
  readonly shutdown: (drainMs: number) => Effect.Effect<void>
}

type Answer = { readonly ok: unknown } | PoolError

interface Request {
  readonly id: number
  /** The `req` frame, encoded when the request was accepted; dropped once it is answered or cancelled. */
  frame: Buffer | undefined
  readonly acceptedAt: number
  readonly answer: (a: Answer) => void
  state: "queued" | "running" | "done"
  worker: Worker | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

/** Why a worker's run ended: restarts count the failures, not retirements or kills we ordered. */
type End =
  | { readonly _tag: "Retired" }
  | { readonly _tag: "Killed"; readonly reason: string }
  | { readonly _tag: "Failed"; readonly reason: string }

class Worker {
  readonly slot: number
  readonly child: Child
  link!: Link
  readonly startedAt = Date.now()
  idleSince = Date.now()
  jobs = 0
  state: "booting" | "ready" | "retiring" | "dead" = "booting"
  /** It clung to a cancelled request: when it leaves, it is killed, not asked. */
  stuck = false
  /** Set when its exit was seen while its stdout still had bytes to read: what ends it once they are. */
  drained: (() => void) | undefined = undefined
  readonly running = new Map<number, Request>()
  /** Cancelled requests the worker may still answer, with their grace timers. */
  readonly cancelled = new Map<number, ReturnType<typeof setTimeout>>()
  readonly ready = Deferred.makeUnsafe<void, string>()
  readonly ended = Deferred.makeUnsafe<End>()

  constructor(slot: number, child: Child) {
    this.slot = slot
    this.child = child
  }

  get load(): number {
    return this.running.size + this.cancelled.size
  }
}

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
    const size = o.workers ?? availableParallelism()
    const maxInFlight = o.maxInFlight ?? 1
    const bootMs = toMillis(o.bootTimeout ?? 10_000)
    const execMs = toMillis(o.execTimeout ?? 30_000)
    const maxJobs = o.maxJobs ?? 0
    const maxMemoryMb = o.maxMemoryMb ?? 0
    const ttlMs = o.ttl === undefined ? 0 : toMillis(o.ttl)
    const idleTtlMs = o.idleTtl === undefined ? 0 : toMillis(o.idleTtl)
    const maxQueue = o.maxQueue ?? 1024
    const maxRestarts = o.maxRestarts ?? 10
    const windowMs = toMillis(o.restartWindow ?? 60_000)
    const cancelGraceMs = toMillis(o.cancelGrace ?? 1000)
    const codecName: CodecName = o.codec ?? "json"
    const codec = codecOf(codecName)

    const workers: Array<Worker | undefined> = new Array(size).fill(undefined)
    const queue = new Deque<Request>()
    let queued = 0 // live (not cancelled) requests in `queue`
    let nextId = 1
    let closing = false
    let failure: PoolFailed | undefined = undefined
    const failedSignal = Deferred.makeUnsafe<PoolFailed>()
    const restarts: Array<number> = []
    const stats = { restarts: 0, recycles: 0, answered: 0 }

    // ── answers ──────────────────────────────────────────────────────────
    const finish = (req: Request, answer: Answer) => {
      if (req.state === "done") return
      req.state = "done"
      if (req.timer !== undefined) clearTimeout(req.timer)
      stats.answered++
      hooks.onAnswer?.(req.id, "ok" in answer ? "ok" : answer._tag, Date.now() - req.acceptedAt)
      req.answer(answer)
    }

    // ── dispatch ─────────────────────────────────────────────────────────
    const pick = (): Worker | undefined => {
      let best: Worker | undefined = undefined
      for (const w of workers) {
        if (w === undefined || w.state !== "ready" || w.load >= maxInFlight) continue
        if (best === undefined || w.load < best.load) best = w
        if (best.load === 0) break
      }
      return best
    }

    const send = (w: Worker, req: Request) => {
      req.state = "running"
      req.worker = w
      w.running.set(req.id, req)
      req.timer = setTimeout(() => onTimeout(req), execMs)
      const frame = req.frame!
      req.frame = undefined
      if (!w.link.sendFrame(frame)) {
        kill(w, { _tag: "Failed", reason: "its stdin is closed" }, (r) => new Io({ worker: w.slot, reason: `cannot send request ${r.id}: stdin closed` }))
      }
    }

    /** Gives queued requests to workers with room, oldest first. */
    const pump = () => {
      while (queued > 0) {
        const head = queue.peek()!
        if (head.state !== "queued") {
          queue.shift()
          continue
        }
        const w = pick()
        if (w === undefined) return
        queue.shift()
        queued--
        send(w, head)
      }
    }

    // ── worker lifecycle ─────────────────────────────────────────────────
    /** Ends a worker now: what it holds gets `error`. */
    const kill = (w: Worker, end: End, error: (req: Request) => PoolError) => {
      if (w.state === "dead") return
      w.state = "dead"
      for (const req of w.running.values()) finish(req, error(req))
      w.running.clear()
      for (const timer of w.cancelled.values()) clearTimeout(timer)
      w.cancelled.clear()
      Deferred.doneUnsafe(w.ended, Effect.succeed(end))
      pump()
    }

    const retire = (w: Worker, why: string) => {
      if (w.state !== "ready") return
      w.state = "retiring"
      stats.recycles++
      Effect.runFork(Effect.logInfo(`recycling worker ${w.slot} (pid ${w.child.pid}): ${why}`))
      settleRetiring(w)
    }

    /** A retiring worker leaves once it holds no live request (a cancelled one it clings to does not count). */
    const settleRetiring = (w: Worker) => {
      if (w.state === "retiring" && w.running.size === 0) {
        w.state = "dead"
        Deferred.doneUnsafe(w.ended, Effect.succeed({ _tag: "Retired" }))
      }
    }

    const afterJob = (w: Worker) => {
      if (w.load === 0) w.idleSince = Date.now()
      if (w.state === "ready" && maxJobs > 0 && w.jobs >= maxJobs) retire(w, `${w.jobs} jobs (maxJobs)`)
      settleRetiring(w)
    }

    const onTimeout = (req: Request) => {
      const w = req.worker
      if (req.state !== "running" || w === undefined) return
      kill(
        w,
        { _tag: "Killed", reason: `request ${req.id} exceeded execTimeout` },
        (r) => r === req ? new Timeout({ ms: execMs }) : new WorkerDied({ worker: w.slot, pid: w.child.pid, reason: "killed: another request on it timed out" })
      )
    }

    const onMessage = (w: Worker, m: unknown) => {
      if (w.state === "booting") {
        const ready = checkReady(m)
        if (typeof ready === "string") return Deferred.doneUnsafe(w.ready, Effect.fail(ready))
        if (ready.pro !== PROTOCOL_VERSION) {
          return Deferred.doneUnsafe(w.ready, Effect.fail(`worker speaks protocol ${ready.pro}, this host ${PROTOCOL_VERSION}`))
        }
        return Deferred.doneUnsafe(w.ready, Effect.void)
      }
      if (w.state === "dead") return
      const res = checkRes(m as { t: string })
      if (typeof res === "string") return protocolBreak(w, res)
      const req = w.running.get(res.id)
      if (req === undefined) {
        const grace = w.cancelled.get(res.id)
        if (grace === undefined) return protocolBreak(w, `an answer to request ${res.id}, which is not outstanding`)
        clearTimeout(grace)
        w.cancelled.delete(res.id)
        w.jobs++
        afterJob(w)
        return pump()
      }
      w.running.delete(res.id)
      w.jobs++
      afterJob(w)
      // the next request goes out before this answer's caller resumes: the worker is not kept waiting
      pump()
      finish(req, "ok" in res ? { ok: res.ok } : new Application({ code: res.err.code, message: res.err.message }))
    }

    const protocolBreak = (w: Worker, reason: string) =>
      kill(w, { _tag: "Failed", reason: `protocol: ${reason}` }, () => new Protocol({ worker: w.slot, reason }))

    const onLinkClosed = (w: Worker, error: { readonly message: string } | undefined) => {
      if (error === undefined) {
        // end of stdout: every answer the worker wrote has been read
        w.drained?.()
        return
      }
      if (w.state === "booting") return Deferred.doneUnsafe(w.ready, Effect.fail(error.message))
      protocolBreak(w, error.message)
    }

    /** Writing to it failed: it takes nothing more; what it holds may still be answered before it exits. */
    const onStdinError = (w: Worker, error: { readonly message: string }) => {
      if (w.state === "booting") return Deferred.doneUnsafe(w.ready, Effect.fail(error.message))
      if (w.state === "ready") retire(w, error.message)
      settleRetiring(w)
    }

    const onExit = (w: Worker, r: Result) => {
      const how = r.signal !== null ? `signal ${r.signal}` : `code ${r.code}`
      if (w.state === "booting") Deferred.doneUnsafe(w.ready, Effect.fail(`exited (${how}) before ready`))
      const die = () =>
        kill(w, { _tag: "Failed", reason: `exited (${how})` }, () => new WorkerDied({ worker: w.slot, pid: w.child.pid, reason: `exited (${how})` }))
      if (w.link.closed() || w.state === "dead") return die()
      // the exit can be seen before the last answers in the pipe: read them first (briefly)
      const timer = setTimeout(die, 200)
      w.drained = () => {
        clearTimeout(timer)
        die()
      }
    }

    /** One worker in `slot`, from spawn to its end. */
    const run = (slot: number): Effect.Effect<End> =>
      Effect.scoped(Effect.gen(function*() {
        const child = yield* spawn({
          command: o.command,
          args: o.args ?? [],
          env: workerEnv(o.env, codecName, slot + 1),
          ...(o.cwd === undefined ? {} : { cwd: o.cwd }),
          grace: o.grace ?? 5000,
          stdout: "pipe",
          annotations: { worker: slot + 1 }
        })
        const w = new Worker(slot + 1, child)
        // closed under it (the pool's scope ends): what it holds is answered first
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => kill(w, { _tag: "Killed", reason: "the pool closed" }, () => new ShuttingDown({ reason: "the pool closed" })))
        )
        w.link = attach(child.stdin!, child.stdout!, { codec, maxFrameBytes: o.maxFrameBytes, log: child.log, writeThrough: maxInFlight === 1 }, {
          onMessage: (m) => onMessage(w, m),
          onClose: (e) => onLinkClosed(w, e),
          onStdinError: (e) => onStdinError(w, e)
        })
        yield* Effect.forkScoped(Effect.map(child.result, (r) => onExit(w, r)))
        const booted = yield* Deferred.await(w.ready).pipe(
          Effect.timeoutOrElse({ duration: bootMs, orElse: () => Effect.fail(`no ready within ${bootMs} ms (bootTimeout)`) }),
          Effect.result
        )
        if (booted._tag === "Failure") {
          kill(w, { _tag: "Failed", reason: `boot: ${booted.failure}` }, () => new WorkerDied({ worker: w.slot, pid: child.pid, reason: "boot failed" }))
          yield* child.kill
          return yield* Deferred.await(w.ended)
        }
        if (w.state === "booting") {
          w.state = "ready"
          w.idleSince = Date.now()
          workers[slot] = w
          pump()
        }
        const end = yield* Deferred.await(w.ended)
        workers[slot] = undefined
        // a worker we gave up on is killed; a retired one leaves on stdin EOF (the scope's escalation)
        if (end._tag !== "Retired" || w.stuck) yield* child.kill
        return end
      }).pipe(Effect.catch((e) => Effect.succeed<End>({ _tag: "Failed", reason: e.message }))))

    const failPool = (reason: string) => {
      if (failure !== undefined) return
      failure = new PoolFailed({ reason })
      Effect.runFork(Effect.logError(failure.message))
      for (const req of queue.drain()) if (req.state === "queued") finish(req, failure)
      queued = 0
      for (const w of workers) if (w !== undefined) retire(w, "the pool failed")
      Deferred.doneUnsafe(failedSignal, Effect.succeed(failure))
    }

    /** Keeps `slot` filled until the pool closes or fails. */
    const keeper = (slot: number) =>
      Effect.gen(function*() {
        let failures = 0
        // slots are refilled during a drain too (what was accepted is still owed an answer);
        // they stop when the pool's scope closes (`stopAll` interrupts the keepers)
        while (failure === undefined) {
          const end = yield* run(slot)
          if (failure !== undefined) return
          if (end._tag !== "Failed") {
            failures = 0
            continue
          }
          const now = Date.now()
          restarts.push(now)
          while (restarts.length > 0 && restarts[0]! < now - windowMs) restarts.shift()
          stats.restarts++
          if (restarts.length > maxRestarts) {
            return failPool(`${restarts.length} worker failures within ${windowMs} ms (last: ${end.reason})`)
          }
          failures++
          const backoff = Math.min(5000, 100 * 2 ** Math.min(failures - 1, 10)) * (0.75 + Math.random() * 0.5)
          yield* Effect.logWarning(`worker ${slot + 1} failed (${end.reason}); restarting in ${Math.round(backoff)} ms`)
          yield* Effect.sleep(backoff)
        }
      })

    const keepers = yield* Effect.forEach(Array.from({ length: size }, (_, i) => i), (slot) => Effect.forkDetach(keeper(slot)))
    // Every slot stops at once: N stuck workers cost one escalation, not N.
    const stopAll = Effect.suspend(() => {
      closing = true
      const gone = new ShuttingDown({ reason: "the pool closed" })
      for (const req of queue.drain()) finish(req, gone)
      queued = 0
      return Effect.forEach(keepers, (f) => Fiber.interrupt(f), { concurrency: "unbounded", discard: true })
    })
    yield* Effect.addFinalizer(() => stopAll)

    // ── recycling by age, idleness and memory ────────────────────────────
    if (ttlMs > 0 || idleTtlMs > 0 || maxMemoryMb > 0) {
      const every = Math.max(10, Math.min(1000, ...[ttlMs, idleTtlMs].filter((t) => t > 0).map((t) => t / 4)))
      const sweep = Effect.sync(() => {
        const now = Date.now()
        for (const w of workers) {
          if (w === undefined || w.state !== "ready") continue
          if (ttlMs > 0 && now - w.startedAt >= ttlMs) retire(w, `older than ${ttlMs} ms (ttl)`)
          else if (idleTtlMs > 0 && w.jobs > 0 && w.load === 0 && now - w.idleSince >= idleTtlMs) {
            retire(w, `idle for ${idleTtlMs} ms (idleTtl)`)
          } else if (maxMemoryMb > 0) {
            const rss = readRssMb(w.child.pid)
            if (rss !== undefined && rss > maxMemoryMb) retire(w, `resident ${Math.round(rss)} MiB > ${maxMemoryMb} MiB`)
          }
        }
      })
      yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(every), sweep)))
    }

    // ── callers ──────────────────────────────────────────────────────────
    const submit = (payload: unknown) =>
      Effect.callback<unknown, PoolError>((resume) => {
        if (failure !== undefined) return resume(Effect.fail(failure))
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
          acceptedAt: Date.now(),
          answer: (a) => resume("ok" in a ? Effect.succeed(a.ok) : Effect.fail(a)),
          state: "queued",
          worker: undefined,
          timer: undefined
        }
        const w = pick()
        if (w === undefined && queued >= maxQueue) return resume(Effect.fail(new Busy({ queued })))
        hooks.onAccept?.(req.id)
        if (w !== undefined) send(w, req)
        else {
          queue.push(req)
          queued++
        }
        return Effect.sync(() => cancel(req))
      })

    const cancel = (req: Request) => {
      if (req.state === "queued") {
        req.state = "done"
        req.frame = undefined // the queue keeps the entry until it reaches the head, not the payload
        queued--
        hooks.onCancel?.(req.id)
        return
      }
      const w = req.worker
      if (req.state !== "running" || w === undefined) return
      req.state = "done"
      hooks.onCancel?.(req.id)
      if (req.timer !== undefined) clearTimeout(req.timer)
      w.running.delete(req.id)
      if (w.state === "dead") return
      w.link.send({ t: "cancel", id: req.id })
      w.cancelled.set(req.id, setTimeout(() => {
        w.stuck = true
        retire(w, `it did not let go of cancelled request ${req.id}`)
        settleRetiring(w)
      }, cancelGraceMs))
      settleRetiring(w) // a retiring worker may have been waiting for just this request
    }

    const shutdown = (drainMs: number) =>
      Effect.gen(function*() {
        if (closing) return
        closing = true
        const deadline = Date.now() + drainMs
        const busy = () => queued > 0 || workers.some((w) => w !== undefined && w.running.size > 0)
        while (busy() && Date.now() < deadline) yield* Effect.sleep(10)
        const late = new ShuttingDown({ reason: `not answered within the drain window (${drainMs} ms)` })
        for (const req of queue.drain()) finish(req, late)
        queued = 0
        for (const w of workers) if (w !== undefined) for (const req of [...w.running.values()]) finish(req, late)
        yield* stopAll
      })

    const live = () => workers.filter((w): w is Worker => w !== undefined && w.state !== "dead")

    return {
      submit,
      ready: () => failure === undefined && workers.some((w) => w?.state === "ready"),
      stats: () => {
        const ws = live()
        return {
          workers: size,
          ready: ws.filter((w) => w.state === "ready").length,
          busy: ws.filter((w) => w.load > 0).length,
          withRoom: ws.filter((w) => w.state === "ready" && w.load < maxInFlight).length,
          inFlight: ws.reduce((n, w) => n + w.running.size, 0),
          queued,
          restarts: stats.restarts,
          recycles: stats.recycles,
          answered: stats.answered,
          failed: failure !== undefined
        }
      },
      pids: () => live().map((w) => w.child.pid),
      failed: Deferred.await(failedSignal),
      shutdown
    } satisfies Pool
  })

/** The pool as a service: `Pool.Service.layer(options)`. */
export class Service extends Context.Service<Service, Pool>()("liege/pool/Pool") {
  static readonly layer = (options: Schema.Codec.Encoded<typeof PoolOptions> | PoolOptions, hooks?: PoolHooks) =>
    Layer.effect(Service, make(options, hooks))
}
