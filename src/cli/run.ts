/**
 * `liege run [flags] -- CMD ARGS…` (SPEC §8): one supervised process, its
 * stdout and stderr passed through untouched, liege's stdin piped to it.
 * Exit status: the child's code, or 128+n for signal n.
 */
import { Effect } from "effect"
import { spawn } from "../supervisor/child.ts"
import type { Parsed } from "./args.ts"
import type { run } from "./commands.ts"
import { Shutdown } from "./shutdown.ts"

export const program = ({ flags, command: [command, ...args] }: Parsed<typeof run.flags>) =>
  Effect.scoped(Effect.gen(function*() {
    const shutdown = yield* Shutdown
    const child = yield* spawn({
      command: command!,
      args,
      grace: flags.grace,
      killWait: flags.killWait,
      ...(flags.timeout === undefined ? {} : { timeout: flags.timeout }),
      stdin: process.stdin,
      stdout: "inherit",
      stderr: "inherit"
    })
    yield* Effect.raceFirst(Effect.asVoid(child.result), Effect.asVoid(shutdown.requested))
    const result = yield* child.stop
    if (flags.report === "json") process.stderr.write(JSON.stringify(result.toReport()) + "\n")
    process.exitCode = result.exitStatus
  }))
