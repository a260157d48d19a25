/**
 * The host side of one serf (SPEC §2): the seed's flows as Effect fibers.
 *
 * `start` spawns the serf under the supervisor and waits for `ripe`. Every
 * flow then holds the serf lock (./lock.ts); a flow that fails or is
 * interrupted while holding it kills the serf and leaves the lock "not
 * running" (every later flow fails with `SerfNotRunning`): `withLock` gets
 * that from the flow's exit, so no flow needs its own cleanup path. `work` is
 * the pipelined `run` flow (./window.ts): up to `maxInFlight` writs
 * outstanding, answered in order.
 *
 * The handle owns a `FiberSet` for the lifetime of its scope: the fibers it
 * starts from callbacks (stopping a serf whose lock ended, watching the
 * process) run in it, with the context `start` was called in (its logger).
 */
import { Deferred, Effect, Exit, Fiber, FiberSet, Option, Schema, type Scope, Stream } from "effect"
import * as Alarm from "../internal/alarm.ts"
import * as Trace from "../internal/trace.ts"
import { decodeOptions } from "../internal/options.ts"
import { workerEnv } from "../internal/worker.ts"
import { SerfOptions, settings } from "./options.ts"
import { spawn } from "../supervisor/child.ts"
import { InvalidOptions } from "../errors.ts"
import type { SpawnFailed } from "../supervisor/errors.ts"
import type { Result } from "../supervisor/result.ts"
import { codec as codecOf, RawJson } from "../wire/codec.ts"
import { attach } from "../wire/link.ts"
import { type LockOp, SerfLock } from "./lock.ts"
import {
  EventNotEncodable,
  ReplayDiverged,
  SerfBootTimeout,
  SerfDied,
  type SerfError,
  SerfNotRunning,
  SerfIncompatible,
  SerfProtocolError,
  SwimFailed
} from "./errors.ts"
import { type Event, type Plea, PROTOCOL_VERSION, type Ripe } from "./protocol.ts"
import { isError, type WorkAnswer, type WorkOp } from "./window.ts"
import { type PlayResult, playFlows, type ReplayEvent, type ReplayProgress, type SwimEffect } from "./replay.ts"

export type { PlayResult, ReplayEvent, ReplayProgress, SwimEffect } from "./replay.ts"

export type { WorkAnswer }


export interface Serf {
  readonly pid: number
  readonly ripe: Ripe
  /** The lock state: the last event the serf has done, and its mug. */
  readonly state: () => { readonly eve: number; readonly mug: number }
  /** False once the handle is dead (stopped, failed, or the serf exited). */
  readonly running: () => boolean
  readonly inFlight: () => number
  /** All boot events in one `play` from event 1. */
  readonly boot: (events: ReadonlyArray<Event>) => Effect.Effect<PlayResult, SerfError>
  /** `play` batches of at most `batchSize`; stops at the first `play-bail`. */
  readonly replay: <E>(
    events: Stream.Stream<ReplayEvent, E>,
    onProgress?: (progress: ReplayProgress) => void
  ) => Effect.Effect<PlayResult, SerfError | ReplayDiverged | E>
  /** Replay through `work`, collecting effects; a bail or a swap is `SwimFailed`. */
  readonly swim: <E>(
    events: Stream.Stream<Event, E>
  ) => Effect.Effect<ReadonlyArray<SwimEffect>, SerfError | SwimFailed | E>
  /** One event through the `run` pipeline; inside a span, the span's context goes with it (`trace`). */
  readonly work: (ev: unknown, wen?: number) => Effect.Effect<WorkAnswer, SerfError>
  /**
   * The callback form of `work` for hot paths (the pier); returns a cancel
   * function (true when the writ was not sent yet). `json`, when given, is the
   * event as JSON text: with the json codec it is sent as it is. `done` is
   * called once; a failure is `SerfDied` or `SerfProtocolError` when the writ
   * was sent and the serf ended owing its answer, `SerfNotRunning` when it
   * was never sent (or the handle was given up), `EventNotEncodable` when the
   * codec cannot carry the event. `trace`, when given, is the traceparent of
   * the span the serf's work runs in (SPEC §1).
   */
  readonly submit: (
    ev: unknown,
    wen: number,
    done: (answer: WorkAnswer | SerfError) => void,
    json?: string,
    trace?: string
  ) => () => boolean
  /** `save` at the current event, after `before` ran under the lock; returns the event. */
  readonly save: <E = never>(before?: Effect.Effect<void, E>) => Effect.Effect<number, SerfError | E>
  /** `pack` at the current event, after `before` ran under the lock; returns the event. */
  readonly pack: <E = never>(before?: Effect.Effect<void, E>) => Effect.Effect<number, SerfError | E>
  /**
   * Runs `flow` holding the lock, once the window has drained: no writ goes
   * to the serf meanwhile (work waits behind it). `flow` must not talk to
   * this serf; its failure is handed back as its exit and, unlike a flow of
   * the serf's own, does not end the serf. Fails only when the lock is not
   * granted (the serf ended).
   */
  readonly hold: <A, E>(flow: Effect.Effect<A, E>) => Effect.Effect<Exit.Exit<A, E>, SerfError>
  /** Kills the serf now and poisons the handle (for a host that can no longer trust its state). */
  readonly abandon: (reason: string) => void
  readonly peek: (
    path: ReadonlyArray<string>,
    options?: { readonly gang?: ReadonlyArray<string> | null; readonly now?: number }
  ) => Effect.Effect<unknown, SerfError>
  /** `exit 0` once the window has drained, then waits for the process (escalating after `stopGrace`). */
  readonly stop: Effect.Effect<Result>
  /** The serf process's result (waits for it). */
  readonly exited: Effect.Effect<Result>
  /** Completes with the error that ended the handle. */
  readonly dead: Effect.Effect<SerfError>
}

const unexpected = (pid: number, plea: Plea, wanted: string) =>
  new SerfProtocolError({ pid, reason: `expected ${wanted}, got ${plea.t}` })

export interface SerfHooks {
  /** Called after the pleas of one chunk read from the serf (the pier commits there). */
  readonly afterPleas?: (() => void) | undefined
}

export const start = (
  input: Schema.Codec.Encoded<typeof SerfOptions> | SerfOptions,
  hooks: SerfHooks = {}
): Effect.Effect<
  Serf,
  InvalidOptions | SpawnFailed | SerfIncompatible | SerfError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const options = yield* decodeOptions(SerfOptions, input, (i) => new InvalidOptions(i))
    const { codecName, workerId, bootMs, stopGraceMs, batchSize, maxInFlight, workTimeoutMs, heartbeatMs } = settings(options)
    // made before the spawn, so that it closes after the child is stopped
    const run = yield* FiberSet.makeRuntime()
    let lock: SerfLock | undefined = undefined
    const alarm = yield* Alarm.make((now) => lock?.ring(now))
    const child = yield* spawn({
      command: options.command,
      args: options.args ?? [],
      env: workerEnv(options.env, codecName, workerId, options.pier, options.generation),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      grace: stopGraceMs,
      stdout: "pipe",
      annotations: { worker: workerId, ...options.annotations }
    })
    const deadSignal = yield* Deferred.make<SerfError>()
    const codec = codecOf(codecName)
    const link = attach(child.stdin!, child.stdout!, {
      codec,
      maxFrameBytes: options.maxFrameBytes,
      log: child.log,
      writeThrough: maxInFlight === 1
    }, {
      onMessage: (m) => lock!.onMessage(m),
      onChunk: hooks.afterPleas,
      onClose: (error) => {
        const d = lock!
        if (error === undefined) d.died(null)
        else d.fail(new SerfProtocolError({ pid: child.pid, reason: error.message }))
      }
    })
    const timing = { alarm, workTimeoutMs, heartbeatMs }
    const d = new SerfLock(child.pid, maxInFlight, link, timing, (error) => {
      Deferred.doneUnsafe(deadSignal, Effect.succeed(error))
      // A dead handle never comes back: make sure the process goes too.
      run(child.stop)
    })
    lock = d
    run(Effect.map(child.result, (r) => d.died(r)))

    const ripe = yield* Effect.callback<Ripe, SerfError>((resume) => {
      if (d.ripe !== undefined) return resume(Effect.succeed(d.ripe))
      if (d.dead !== undefined) return resume(Effect.fail(d.dead))
      d.onRipe = (r) => resume("t" in r ? Effect.succeed(r) : Effect.fail(r))
    }).pipe(
      Effect.timeoutOrElse({
        duration: bootMs,
        orElse: () => Effect.fail(new SerfBootTimeout({ pid: child.pid, ms: bootMs }))
      }),
      // the process is gone before the error is told: a serf that exited says how
      Effect.catch((e) =>
        Effect.flatMap(
          Effect.andThen(Effect.sync(() => d.fail(e)), child.stop),
          (result) => Effect.fail(e._tag === "SerfDied" && e.result === null ? new SerfDied({ pid: e.pid, result }) : e)
        )
      )
    )
    if (ripe.pro !== PROTOCOL_VERSION) {
      const e = new SerfIncompatible({
        pid: child.pid,
        reason: `serf speaks protocol ${ripe.pro}, this host speaks ${PROTOCOL_VERSION}`
      })
      d.fail(new SerfNotRunning({ pid: child.pid, reason: e.reason }))
      yield* child.stop
      return yield* e
    }

    const acquire = Effect.callback<void, SerfError>((resume) => {
      const op: LockOp = {
        kind: "lock",
        grant: () => resume(Effect.void),
        refuse: (e) => resume(Effect.fail(e)),
        cancelled: false
      }
      d.submit(op)
      return Effect.sync(() => {
        op.cancelled = true
      })
    })

    /** Runs `flow` holding the lock; a failure or an interruption inside kills the serf. */
    const withLock = <A, E>(flow: Effect.Effect<A, E>): Effect.Effect<A, E | SerfError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          yield* restore(acquire)
          const exit = yield* Effect.exit(restore(flow))
          if (Exit.isSuccess(exit)) {
            d.release()
            return exit.value
          }
          if (d.dead === undefined) {
            d.fail(new SerfNotRunning({ pid: child.pid, reason: "a flow failed or was interrupted holding the lock" }))
          }
          return yield* exit
        })
      )

    /** Holds the lock around a flow that sends the serf nothing: whatever its end, the lock is released. */
    const hold = <A, E>(flow: Effect.Effect<A, E>): Effect.Effect<Exit.Exit<A, E>, SerfError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.andThen(
          restore(acquire),
          Effect.ensuring(Effect.exit(restore(flow)), Effect.sync(() => d.release()))
        )
      )

    /** The frame for a writ (a frame already made passes); one that cannot travel exactly is refused, nothing sent. */
    const frameOf = (writ: unknown): Buffer | EventNotEncodable => {
      if (Buffer.isBuffer(writ)) return writ
      try {
        return codec.frame(writ)
      } catch (e) {
        return new EventNotEncodable({ reason: (e as Error).message })
      }
    }

    const ask = (t: string, writ: unknown) =>
      Effect.callback<Plea, SerfError>((resume) => {
        const frame = frameOf(writ)
        if (!Buffer.isBuffer(frame)) return resume(Effect.fail(frame))
        d.ask(t, frame, (answer) => resume(isError(answer) ? Effect.fail(answer) : Effect.succeed(answer)))
      })

    const { boot, replay, swim } = playFlows({ lock: d, pid: child.pid, codecName, batchSize, frameOf, ask, withLock })

    /**
     * The `work` writ. With the json codec, JSON text given with the event goes
     * into the frame as it is: the serf gets exactly the text that is logged.
     */
    const workFrame = (ev: unknown, wen: number, json: string | undefined, trace: string | undefined): Buffer =>
      json !== undefined && codecName === "json"
        ? codec.frame(new RawJson(`{"t":"work","wen":${JSON.stringify(wen)},"ev":${json}${trace === undefined ? "" : `,"trace":${JSON.stringify(trace)}`}}`))
        : codec.frame(trace === undefined ? { t: "work", wen, ev } : { t: "work", wen, ev, trace })

    const submit = (ev: unknown, wen: number, done: (answer: WorkAnswer | SerfError) => void, json?: string, trace?: string) => {
      let frame: Buffer
      try {
        frame = workFrame(ev, wen, json, trace)
      } catch (e) {
        done(new EventNotEncodable({ reason: (e as Error).message }))
        return () => false
      }
      const op: WorkOp = { kind: "work", wen, ev, frame, done, sent: false, cancelled: false }
      d.submit(op)
      return () => {
        if (op.sent) return false
        op.cancelled = true
        return true
      }
    }

    const work = (ev: unknown, wen?: number) =>
      Effect.callback<WorkAnswer, SerfError>((resume) => {
        let gone = false
        const fiber = Fiber.getCurrent()
        const caller = fiber === undefined ? undefined : Trace.callerOf(fiber)
        const cancel = submit(ev, wen ?? alarm.now(), (answer) => {
          if (!gone) resume(isError(answer) ? Effect.fail(answer) : Effect.succeed(answer))
        }, undefined, caller?.traceparent)
        return Effect.sync(() => {
          // not sent: it never will be; sent: the serf answers, nobody listens
          gone = true
          cancel()
        })
      })

    const live = (t: "save" | "pack") => <E = never>(before?: Effect.Effect<void, E>) =>
      withLock(Effect.andThen(
        before ?? Effect.void,
        Effect.suspend(() => {
          const eve = d.eve
          return Effect.flatMap(
            ask(t, { t, eve }),
            (plea) => plea.t === "live" ? Effect.succeed(eve) : Effect.fail(unexpected(child.pid, plea, "live"))
          )
        })
      ))

    const peek = (
      path: ReadonlyArray<string>,
      options?: { readonly gang?: ReadonlyArray<string> | null; readonly now?: number }
    ) =>
      Effect.suspend(() => {
        // encoded before the lock: a path that cannot travel is refused without touching the serf
        const frame = frameOf({ t: "peek", now: options?.now ?? alarm.now(), gang: options?.gang ?? null, path })
        if (!Buffer.isBuffer(frame)) return Effect.fail(frame)
        return withLock(Effect.flatMap(
          ask("peek", frame),
          (plea) => plea.t === "peek" ? Effect.succeed(plea.dat) : Effect.fail(unexpected(child.pid, plea, "peek"))
        ))
      })

    const stop = Effect.gen(function*() {
      if (d.dead === undefined) {
        // the window drains first; a serf stuck on an event gets `stopGrace` to finish it
        const sent = yield* Effect.timeoutOption(
          Effect.exit(withLock(Effect.sync(() => {
            link.send({ t: "exit", code: 0 })
            d.fail(new SerfNotRunning({ pid: child.pid, reason: "it was stopped" }))
          }))),
          stopGraceMs
        )
        if (Option.isNone(sent)) d.fail(new SerfNotRunning({ pid: child.pid, reason: "it was stopped (its work did not drain)" }))
      }
      return yield* child.stop
    })

    return {
      pid: child.pid,
      ripe,
      state: () => ({ eve: d.eve, mug: d.mug }),
      running: () => d.dead === undefined,
      inFlight: () => d.inFlight,
      boot,
      replay,
      swim,
      work,
      submit,
      save: live("save"),
      pack: live("pack"),
      peek,
      stop,
      hold,
      abandon: (reason) => d.fail(new SerfNotRunning({ pid: child.pid, reason })),
      exited: child.result,
      dead: Deferred.await(deadSignal)
    } satisfies Serf
  })
