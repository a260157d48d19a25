/**
 * `liege serf --pier DIR [flags] -- CMD ARGS…` (SPEC §8): one serf with its
 * pier, behind HTTP. SIGTERM/SIGINT: stop taking requests, drain, save,
 * stop the serf, exit 0. A replay that diverges from the log: exit 3 with
 * one line `ReplayDiverged: …`; a serf that keeps failing: exit 1.
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"
import { listen } from "../http/server.ts"
import { commitBatches, serfApp } from "../http/serf.ts"
import { makeLogPump } from "../internal/logpump.ts"
import { open } from "../pier/pier.ts"
import { replayReporter } from "../pier/progress.ts"
import { Event } from "../serf/protocol.ts"
import { ExitStatus, UsageError } from "./errors.ts"
import type { Parsed } from "./args.ts"
import type { serf } from "./commands.ts"
import { Shutdown } from "./shutdown.ts"

const BootEvents = Schema.Array(Event)

const readBoot = (file: string | undefined) =>
  Effect.gen(function*() {
    if (file === undefined) return undefined
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch (e) {
      return yield* new UsageError({ message: `--boot ${file}: ${(e as NodeJS.ErrnoException).code ?? e}` })
    }
    const parsed = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (e) => new UsageError({ message: `--boot ${file}: not JSON (${(e as Error).message})` })
    })
    return yield* Schema.decodeUnknownEffect(BootEvents)(parsed).pipe(
      Effect.mapError(() => new UsageError({ message: `--boot ${file}: expected a JSON array of {"wen": number, "ev": any}` }))
    )
  })

export const program = ({ flags, command: [command, ...args] }: Parsed<typeof serf.flags>) =>
  Effect.scoped(Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const boot = yield* readBoot(flags.boot)
    // the address first: a taken port stops liege before the serf is spawned
    const server = yield* listen({ listen: flags.listen, token: flags.token, maxBody: flags.maxBody, maxDepth: flags.maxDepth })
    process.stdout.write(`listening on ${server.url}\n`)
    yield* Effect.logInfo(`status page: ${server.url}/ui`)
    const log = yield* makeLogPump({})
    const batches = commitBatches()
    const pier = yield* open({
      dir: flags.pier,
      command: command!,
      args,
      codec: flags.codec,
      maxFrameBytes: flags.maxFrameBytes,
      bootTimeout: flags.bootTimeout,
      stopGrace: flags.stopGrace,
      maxInFlight: flags.maxInFlight,
      batchSize: flags.batch,
      maxRestarts: flags.maxRestarts,
      restartWindow: flags.restartWindow,
      ...(boot === undefined ? {} : { boot })
    }, {
      onReplay: replayReporter(log, process.stderr.isTTY ? process.stderr : undefined),
      onCommit: (n) => batches.observe(n)
    })
    yield* server.start(serfApp(pier, { batches }))
    const fatal = yield* Effect.raceFirst(Effect.as(shutdown.requested, undefined), pier.fatal)
    if (fatal === undefined) {
      yield* Effect.logInfo("stopping: draining, saving, stopping the serf")
      yield* server.stopAccepting
      yield* pier.shutdown(flags.drain)
      return
    }
    if (fatal._tag === "ReplayDiverged") {
      return yield* new ExitStatus({ status: 3, line: `ReplayDiverged: ${fatal.message}` })
    }
    return yield* new ExitStatus({ status: fatal._tag === "InvalidOptions" ? 2 : 1, line: `liege: ${fatal.message}` })
  }))
