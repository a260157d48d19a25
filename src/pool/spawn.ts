/**
 * One worker in its slot (SPEC §5), from spawn to its end, in its own
 * scope: spawned under the supervisor, linked to the wire, run until its
 * end is decided, then stopped — killed if the pool gave up on it, else
 * asked to leave (stdin EOF, then the supervisor's escalation).
 */
import { Clock, Deferred, Effect } from "effect"
import * as Alarm from "../internal/alarm.ts"
import { workerEnv } from "../internal/worker.ts"
import { type Child, spawn } from "../supervisor/child.ts"
import type { SpawnFailed } from "../supervisor/errors.ts"
import { attach } from "../wire/link.ts"
import type { End } from "./end.ts"
import { Worker, type WorkerHost } from "./worker.ts"

/** What a worker's run came to. */
export interface WorkerRun {
  readonly end: End
  /** Its process's pid (0: it never started). */
  readonly pid: number
  readonly endedAt: number
  readonly readyAt: number | undefined
  /** The process's exit code or signal, once it is gone (undefined: it never started). */
  readonly exit: { readonly code: number | null; readonly signal: string | null } | undefined
  /** Why it could not be spawned, if it could not. */
  readonly spawnFailed?: SpawnFailed | undefined
}

/** Worker number `serial` of the pool, in `slot`, of `generation` (its `LIEGE_GENERATION`). */
export const run = (
  slot: number,
  serial: number,
  generation: number,
  host: WorkerHost,
  started: (w: Worker) => void
): Effect.Effect<WorkerRun> => {
  let spawned: Child | undefined
  return Effect.scoped(Effect.gen(function*() {
    const child = yield* spawn({
      command: host.settings.command,
      args: host.settings.args,
      env: { ...workerEnv(host.settings.env, host.settings.codecName, slot), LIEGE_GENERATION: String(generation) },
      ...(host.settings.cwd === undefined ? {} : { cwd: host.settings.cwd }),
      grace: host.settings.graceMs,
      stdout: "pipe",
      annotations: { worker: slot }
    })
    spawned = child
    let ring = (_now: number) => {}
    const alarm = yield* Alarm.make((now) => ring(now))
    const w = new Worker(slot, serial, generation, child, host, alarm)
    ring = w.ring
    // closed under it (the pool's scope ends): what it holds is answered first
    yield* Effect.addFinalizer(() => Effect.sync(() => w.close()))
    w.link = attach(child.stdin!, child.stdout!, {
      codec: host.settings.codec,
      maxFrameBytes: host.settings.maxFrameBytes,
      log: child.log,
      writeThrough: host.settings.maxInFlight === 1
    }, {
      onMessage: (m) => w.onMessage(m),
      onClose: (e) => w.linkClosed(e),
      onStdinError: (e) => w.stdinError(e)
    })
    yield* Effect.forkScoped(Effect.map(child.result, (r) => w.exited(r)))
    started(w)
    const end = yield* Deferred.await(w.ended)
    if (w.kill) yield* child.kill
    return { end, pid: child.pid, endedAt: w.endedAt, readyAt: w.readyAt }
  })).pipe(
    // the scope has closed: the process is gone, and its result final
    Effect.flatMap((ran) =>
      spawned === undefined
        ? Effect.succeed({ ...ran, exit: undefined })
        : Effect.map(spawned.result, (r): WorkerRun => ({ ...ran, exit: { code: r.code, signal: r.signal } }))
    ),
    Effect.catch((e) =>
      Effect.map(Clock.currentTimeMillis, (now): WorkerRun => ({
        end: { _tag: "Failed", kind: "spawn", reason: `spawn: ${e.message}` },
        pid: 0,
        endedAt: now,
        readyAt: undefined,
        exit: undefined,
        spawnFailed: e._tag === "SpawnFailed" ? e : undefined
      }))
    )
  )
}
