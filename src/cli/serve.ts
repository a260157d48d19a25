/**
 * What every server subcommand does once its locks are taken (SPEC §8):
 * bind `--listen` (before anything is spawned), say so in one line on
 * stdout, and reload at SIGHUP (SPEC §5, §8), logging how it went.
 * The caller says where the status page is once it knows it can run.
 */
import { Effect, FiberSet } from "effect"
import { listen, type ServerOptions } from "../http/server.ts"
import { Shutdown } from "./shutdown.ts"
import { Spans } from "./tracing.ts"

export const bind = (options: Omit<ServerOptions, "spans">) =>
  Effect.gen(function*() {
    const server = yield* listen({ ...options, spans: yield* Spans })
    process.stdout.write(`listening on ${server.url}\n`)
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const shutdown = yield* Shutdown
    yield* shutdown.onHangup(() => {
      run(Effect.logInfo("SIGHUP: reloading").pipe(
        Effect.andThen(server.reload),
        Effect.matchEffect({
          onFailure: (e) => Effect.logError(`SIGHUP: ${e.message}`),
          onSuccess: (body) => Effect.logInfo(`SIGHUP: reloaded ${JSON.stringify(body)}`)
        })
      ))
    })
    return server
  })
