/**
 * The `liege` command: parses argv with `effect/cli`, runs the subcommand,
 * and turns the outcome into an exit status:
 *
 * - bad flags, an unknown subcommand, a missing command, bad config: 2, one line on stderr;
 * - a subcommand's own status (`run`: the child's code or 128+n);
 * - anything else that failed: 1, one line on stderr.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { CliError, CliOutput, Command } from "effect/cli"
import * as Logging from "../internal/logger.ts"
import { ExitStatus, UsageError } from "./errors.ts"
import { root } from "./root.ts"
import { pool } from "./pool.ts"
import { run } from "./run.ts"
import { serf } from "./serf.ts"
import { makeShutdown, Shutdown } from "./shutdown.ts"

export const VERSION = "0.1.0"

export const liege = root.pipe(Command.withSubcommands([run, serf, pool]))

/** Bad invocations: one line on stderr (help only when asked for). */
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Effect.sync(() => {
        const first = event.errors[0]
        process.stderr.write(`liege: ${first === undefined ? "invalid invocation" : first.message.split("\n")[0]}\n`)
      })
      : CliOutput.defaultPresenter.present(event)
})

const statusOf = (exit: Exit.Exit<void, unknown>): { status: number; line: string | undefined } => {
  if (Exit.isSuccess(exit)) return { status: Number(process.exitCode ?? 0), line: undefined }
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) {
    return Cause.hasInterruptsOnly(exit.cause)
      ? { status: 130, line: undefined }
      : { status: 1, line: `liege: ${Cause.pretty(exit.cause).split("\n")[0]}` }
  }
  const e = error.value
  if (e instanceof ExitStatus) return { status: e.status, line: e.line ?? undefined }
  if (e instanceof UsageError) return { status: 2, line: `liege: ${e.message}` }
  if (CliError.isCliError(e)) {
    // ShowHelp was presented already; other CLI errors were not.
    return { status: 2, line: e._tag === "ShowHelp" ? undefined : `liege: ${e.message}` }
  }
  const tagged = e as { _tag?: unknown; message?: unknown }
  if (tagged._tag === "InvalidOptions") return { status: 2, line: `liege: ${String(tagged.message)}` }
  if (tagged._tag === "SpawnFailed") {
    const code = (e as { code?: string }).code
    return { status: code === "ENOENT" ? 127 : 126, line: `liege: ${String(tagged.message)}` }
  }
  return { status: 1, line: `liege: ${String(tagged.message ?? e)}` }
}

/** Runs the command line and exits the process with its status. */
export const main = (argv: ReadonlyArray<string>): void => {
  const format = Logging.defaultFormat()
  let interrupt = () => {}
  const shutdown = makeShutdown(() => interrupt())
  const program = Command.runWith(liege, { version: VERSION })(argv).pipe(
    Effect.provideService(Shutdown, shutdown.service),
    Effect.provide(Layer.mergeAll(NodeServices.layer, presenter, Logging.layer(format)))
  )
  const fiber = Effect.runFork(program)
  interrupt = () => fiber.interruptUnsafe()
  fiber.addObserver((exit) => {
    shutdown.uninstall()
    const { status, line } = statusOf(exit)
    if (line !== undefined) process.stderr.write(line + "\n")
    process.exit(status)
  })
}
