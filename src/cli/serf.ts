/**
 * `liege serf --pier DIR [flags] -- CMD ARGS…` (SPEC §8): one serf with its
 * pier, behind HTTP. SIGTERM/SIGINT: stop taking requests, drain, save,
 * stop the serf, exit 0. A replay that diverges from the log: exit 3 with
 * one line `ReplayDiverged: …`; a serf that keeps failing: exit 1.
 */
import { Effect } from "effect"
import { serfApp } from "../http/serf.ts"
import { makeLogPump } from "../internal/logpump.ts"
import { openWith } from "../pier/pier.ts"
import { replayReporter } from "./progress.ts"
import { openSqlite } from "../pier/sqlite.ts"
import { readBoot } from "./boot.ts"
import { pierOptions } from "./options.ts"
import { ExitStatus } from "./errors.ts"
import { bind } from "./serve.ts"
import type { Parsed } from "./args.ts"
import type { serf } from "./commands.ts"
import { Shutdown } from "./shutdown.ts"
import { Spans, traced } from "./tracing.ts"

export const program = ({ flags, command: [command, ...args] }: Parsed<typeof serf.flags>) =>
  traced(Effect.scoped(Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const boot = yield* readBoot(flags.boot)
    // the pier's lock first: a pier another liege holds stops this one before it binds or spawns anything
    const storage = yield* openSqlite(flags.pier)
    // then the address: a taken port stops liege before the serf is spawned
    const server = yield* bind({ listen: flags.listen, token: flags.token, maxBody: flags.maxBody, maxDepth: flags.maxDepth })
    yield* Effect.logInfo(`status page: ${server.url}/ui`)
    const log = yield* makeLogPump({})
    const pier = yield* openWith(storage.log, { ...pierOptions(flags, flags.pier, command!, args, boot), spans: yield* Spans }, {
      onReplay: replayReporter(log, process.stderr.isTTY ? process.stderr : undefined)
    }, storage.leftover)
    yield* server.start(serfApp(pier))
    const fatal = yield* Effect.raceFirst(Effect.as(shutdown.requested, undefined), pier.fatal)
    if (fatal === undefined) {
      yield* Effect.logInfo("stopping: draining, saving, stopping the serf")
      yield* server.drain
      yield* pier.shutdown(flags.drain)
      return
    }
    if (fatal._tag === "ReplayDiverged") {
      return yield* new ExitStatus({ status: 3, line: `ReplayDiverged: ${fatal.message}` })
    }
    return yield* new ExitStatus({ status: fatal._tag === "InvalidOptions" ? 2 : 1, line: `liege: ${fatal.message}` })
  })))
