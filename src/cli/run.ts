/**
 * `liege run [flags] -- CMD ARGS…` (SPEC §8): one supervised process, its
 * stdout and stderr passed through untouched, liege's stdin piped to it.
 * Exit status: the child's code, or 128+n for signal n.
 */
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { spawn } from "../supervisor/child.ts"
import { duration, optionalDuration } from "./flags.ts"
import { withLogging } from "./root.ts"
import { Shutdown } from "./shutdown.ts"

export const run = Command.make("run", {
  grace: duration("grace", "5s").pipe(Flag.withDescription("natural-exit and SIGTERM windows")),
  killWait: duration("kill-wait", "1s").pipe(Flag.withDescription("wait after SIGKILL")),
  timeout: optionalDuration("timeout").pipe(Flag.withDescription("start the escalation after this long")),
  report: Flag.Literals("report", ["json"]).pipe(
    Flag.withDescription("print the result as one JSON line on stderr"),
    Flag.optional
  ),
  command: Argument.String("command").pipe(Argument.variadic({ min: 1 }), Argument.withDescription("-- CMD ARGS…"))
}, (flags) =>
  withLogging(Effect.scoped(Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const [command, ...args] = flags.command
    const child = yield* spawn({
      command: command!,
      args,
      grace: flags.grace,
      killWait: flags.killWait,
      ...(Option.isSome(flags.timeout) ? { timeout: flags.timeout.value } : {}),
      stdin: process.stdin,
      stdout: "inherit",
      stderr: "inherit"
    })
    yield* Effect.raceFirst(Effect.asVoid(child.result), Effect.asVoid(shutdown.requested))
    const result = yield* child.stop
    if (Option.isSome(flags.report)) process.stderr.write(JSON.stringify(result.toReport()) + "\n")
    process.exitCode = result.exitStatus
  })))).pipe(Command.withDescription("Run one supervised process"))
