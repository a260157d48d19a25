/**
 * `liege pool [flags] -- CMD ARGS…` (SPEC §8): a pool behind HTTP, with the
 * durable session queue in `--state FILE`. SIGTERM/SIGINT: stop taking
 * requests, answer what was accepted within `--drain` (the rest get
 * `ShuttingDown`; session jobs cut off run again at the next start), stop
 * the workers, exit 0.
 */
import { availableParallelism } from "node:os"
import { Deferred, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { latencyBuckets, poolApp } from "../http/pool.ts"
import { serve } from "../http/server.ts"
import type { PoolError } from "../pool/errors.ts"
import { make as makePool, type Pool } from "../pool/pool.ts"
import { make as makeRunner } from "../runner/runner.ts"
import { count, duration, optionalDuration, serverFlags } from "./flags.ts"
import { withLogging } from "./root.ts"
import { Shutdown } from "./shutdown.ts"

export const pool = Command.make("pool", {
  workers: count("workers", availableParallelism(), 1).pipe(Flag.withDescription("slots (default: CPU count)")),
  maxInFlight: count("max-in-flight", 1, 1).pipe(Flag.withDescription("requests pipelined to one worker")),
  bootTimeout: duration("boot-timeout", "10s").pipe(Flag.withDescription("ready handshake limit")),
  execTimeout: duration("exec-timeout", "30s").pipe(Flag.withDescription("per request; the worker is replaced")),
  maxJobs: count("max-jobs", 0, 0).pipe(Flag.withDescription("recycle after N jobs (0: none)")),
  maxMemoryMb: count("max-memory-mb", 0, 0).pipe(Flag.withDescription("recycle above this resident size")),
  ttl: optionalDuration("ttl").pipe(Flag.withDescription("recycle by age")),
  idleTtl: optionalDuration("idle-ttl").pipe(Flag.withDescription("recycle by idleness")),
  maxQueue: count("max-queue", 1024, 0).pipe(Flag.withDescription("waiting requests before Busy")),
  maxRestarts: count("max-restarts", 10, 0),
  restartWindow: duration("restart-window", "60s"),
  state: Flag.String("state").pipe(Flag.withDefault("liege-state.db"), Flag.withDescription("SQLite file for session jobs")),
  grace: duration("grace", "5s").pipe(Flag.withDescription("worker escalation windows")),
  ...serverFlags,
  command: Argument.String("command").pipe(Argument.variadic({ min: 1 }), Argument.withDescription("-- CMD ARGS…"))
}, (flags) =>
  withLogging(Effect.scoped(Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const [command, ...args] = flags.command
    const latency = latencyBuckets()
    const outcomes = new Map<string, number>()
    // the state file first: a locked or unreadable one stops liege before any worker is spawned
    const poolReady = yield* Deferred.make<Pool>()
    // a stored job waits out a full queue instead of failing on Busy
    const runJob = (pool: Pool, payload: unknown): Effect.Effect<unknown, PoolError> =>
      pool.submit(payload).pipe(
        Effect.catchTag("Busy", () => Effect.andThen(Effect.sleep(50), Effect.suspend(() => runJob(pool, payload))))
      )
    const runner = yield* makeRunner(
      { file: flags.state },
      (job) => Effect.flatMap(Deferred.await(poolReady), (pool) => runJob(pool, job.payload))
    )
    const workers = yield* makePool({
      command: command!,
      args,
      codec: flags.codec,
      maxFrameBytes: flags.maxFrameBytes,
      workers: flags.workers,
      maxInFlight: flags.maxInFlight,
      bootTimeout: flags.bootTimeout,
      execTimeout: flags.execTimeout,
      maxJobs: flags.maxJobs,
      maxMemoryMb: flags.maxMemoryMb,
      ...(Option.isSome(flags.ttl) ? { ttl: flags.ttl.value } : {}),
      ...(Option.isSome(flags.idleTtl) ? { idleTtl: flags.idleTtl.value } : {}),
      maxQueue: flags.maxQueue,
      maxRestarts: flags.maxRestarts,
      restartWindow: flags.restartWindow,
      grace: flags.grace
    }, {
      onAnswer: (_id, outcome, ms) => {
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
        latency.observe(ms / 1000)
      }
    })
    yield* Deferred.succeed(poolReady, workers)
    const server = yield* serve(poolApp(workers, runner, { maxBody: flags.maxBody, latency, outcomes }), {
      listen: flags.listen,
      token: Option.getOrUndefined(flags.token)
    })
    process.stdout.write(`listening on ${server.url}\n`)
    yield* shutdown.requested
    yield* Effect.logInfo("stopping: draining, then stopping the workers")
    yield* server.stopAccepting
    yield* runner.shutdown
    yield* workers.shutdown(flags.drain)
  })))).pipe(Command.withDescription("Run a pool of workers behind HTTP"))
