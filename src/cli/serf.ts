/**
 * `liege serf --pier DIR [flags] -- CMD ARGS…` (SPEC §8): one serf with its
 * pier, behind HTTP. SIGTERM/SIGINT: stop taking requests, drain, save,
 * stop the serf, exit 0. A replay that diverges from the log: exit 3 with
 * one line `ReplayDiverged: …`; a serf that keeps failing: exit 1.
 */
import * as fs from "node:fs"
import { Effect, Option, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { serve } from "../http/server.ts"
import { commitBatches, serfApp } from "../http/serf.ts"
import { makeLogPump } from "../internal/logpump.ts"
import { open } from "../pier/pier.ts"
import { replayReporter } from "../pier/progress.ts"
import { Event } from "../serf/protocol.ts"
import { ExitStatus, UsageError } from "./errors.ts"
import { count, duration, serverFlags } from "./flags.ts"
import { withLogging } from "./root.ts"
import { Shutdown } from "./shutdown.ts"

const BootEvents = Schema.Array(Event)

const readBoot = (file: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(file)) return undefined
    let text: string
    try {
      text = fs.readFileSync(file.value, "utf8")
    } catch (e) {
      return yield* new UsageError({ message: `--boot ${file.value}: ${(e as NodeJS.ErrnoException).code ?? e}` })
    }
    const parsed = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) => new UsageError({ message: `--boot ${file.value}: not JSON (${(e as Error).message})` })
    })
    return yield* Schema.decodeUnknownEffect(BootEvents)(parsed).pipe(
      Effect.mapError(() =>
        new UsageError({ message: `--boot ${file.value}: expected a JSON array of {"wen": number, "ev": any}` })
      )
    )
  })

export const serf = Command.make("serf", {
  pier: Flag.String("pier").pipe(Flag.withDescription("pier folder (created if missing)")),
  maxInFlight: count("max-in-flight", 10, 1).pipe(Flag.withDescription("work writs outstanding")),
  batch: count("batch", 1000, 1).pipe(Flag.withDescription("replay batch size")),
  bootTimeout: duration("boot-timeout", "30s").pipe(Flag.withDescription("ripe handshake limit")),
  stopGrace: duration("stop-grace", "2s").pipe(Flag.withDescription("after exit, before escalation")),
  boot: Flag.String("boot").pipe(Flag.withDescription("boot events for a fresh pier (JSON file)"), Flag.optional),
  maxRestarts: count("max-restarts", 10, 0).pipe(Flag.withDescription("serf restarts before liege gives up")),
  restartWindow: duration("restart-window", "60s"),
  ...serverFlags,
  command: Argument.String("command").pipe(Argument.variadic({ min: 1 }), Argument.withDescription("-- CMD ARGS…"))
}, (flags) =>
  withLogging(Effect.scoped(Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const boot = yield* readBoot(flags.boot)
    const [command, ...args] = flags.command
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
    const server = yield* serve(serfApp(pier, { maxBody: flags.maxBody, batches }), {
      listen: flags.listen,
      token: Option.getOrUndefined(flags.token)
    })
    process.stdout.write(`listening on ${server.url}\n`)
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
  })))).pipe(Command.withDescription("Run one serf with its pier, behind HTTP"))
