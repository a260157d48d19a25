/**
 * `liege pool [flags] -- CMD ARGS…` (SPEC §8): a pool behind HTTP, with the
 * durable session queue in `--state FILE`. SIGTERM/SIGINT: stop taking
 * requests, answer what was accepted within `--drain` (the rest get
 * `ShuttingDown`; session jobs cut off run again at the next start), stop
 * the workers, exit 0.
 */
import { Deferred, Effect } from "effect"
import { poolApp } from "../http/pool.ts"
import { make as makePool, type Pool } from "../pool/pool.ts"
import { runStored } from "../runner/outcome.ts"
import { make as makeRunner } from "../runner/runner.ts"
import type { Parsed } from "./args.ts"
import { poolOptions } from "./options.ts"
import type { pool } from "./commands.ts"
import { bind } from "./serve.ts"
import { Shutdown } from "./shutdown.ts"
import { Spans, traced } from "./tracing.ts"

export const program = ({ flags, command: [command, ...args] }: Parsed<typeof pool.flags>) =>
  traced(Effect.scoped(Effect.gen(function*() {
    const shutdown = yield* Shutdown
    // the state file first: one another liege holds stops this one before it binds or spawns anything
    const poolReady = yield* Deferred.make<Pool>()
    const runner = yield* makeRunner(
      { file: flags.state },
      (job) => Effect.flatMap(Deferred.await(poolReady), (pool) => runStored(pool, job.payload))
    )
    // then the address: a taken port stops liege before any worker is spawned
    const server = yield* bind({ listen: flags.listen, token: flags.token, maxBody: flags.maxBody, maxDepth: flags.maxDepth })
    yield* Effect.logInfo(`status page: ${server.url}/ui`)
    const workers = yield* makePool({ ...poolOptions(flags, command!, args), spans: yield* Spans })
    yield* Deferred.succeed(poolReady, workers)
    yield* server.start(poolApp(workers, runner))
    yield* shutdown.requested
    yield* Effect.logInfo("stopping: draining, then stopping the workers")
    yield* server.drain
    yield* runner.shutdown
    yield* workers.shutdown(flags.drain)
  })))
