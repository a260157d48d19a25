/**
 * The `liege` command: parses argv (./args.ts, ./commands.ts), loads only
 * the subcommand it runs, and turns the outcome into an exit status:
 *
 * - bad flags, an unknown subcommand, a missing command, bad config: 2, one line on stderr;
 * - a subcommand's own status (`run`: the child's code or 128+n);
 * - anything else that failed: 1, one line on stderr.
 */
import { Cause, Effect, Exit, Option } from "effect"
import * as Logging from "../internal/logger.ts"
import { type Flag, helpText, parse, type Parsed, type Subcommand } from "./args.ts"
import { clusterPool, clusterSerf, root, subcommands } from "./commands.ts"
import { ExitStatus, UsageError } from "./errors.ts"
import { makeShutdown, Shutdown } from "./shutdown.ts"

export const VERSION = "0.1.0"

const overview = () =>
  [
    root.description,
    "",
    `usage: ${root.usage}`,
    "",
    ...[...Object.values(subcommands), clusterSerf, clusterPool].map((s) => `  ${s.name.padEnd(12)} ${s.description}`),
    "",
    "liege SUBCOMMAND --help shows its flags.",
    ""
  ].join("\n")

const lineOf = (e: unknown): string => {
  const message = (e as { message?: unknown }).message
  return String(typeof message === "string" && message !== "" ? message : e).split("\n")[0]!
}

export const statusOf = (exit: Exit.Exit<void, unknown>): { status: number; line: string | undefined } => {
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
  const tag = (e as { _tag?: unknown })._tag
  if (tag === "InvalidOptions") return { status: 2, line: `liege: ${lineOf(e)}` }
  if (tag === "SpawnFailed") {
    const code = (e as { code?: string }).code
    return { status: code === "ENOENT" ? 127 : 126, line: `liege: ${lineOf(e)}` }
  }
  return { status: 1, line: `liege: ${lineOf(e)}` }
}

type Program = Effect.Effect<void, unknown, Shutdown>

/** Parses argv; loads and builds the subcommand's program, or answers help/version/usage at once. */
const load = async (
  argv: ReadonlyArray<string>
): Promise<{ program: Program; format: Logging.LogFormat | undefined } | string> => {
  let i = 0
  let format: Logging.LogFormat | undefined
  for (; i < argv.length && argv[i]!.startsWith("-"); i++) {
    const word = argv[i]!
    if (word === "--help" || word === "-h") return overview()
    if (word === "--version" || word === "-v") return `liege ${VERSION}\n`
    const parsed = parse({ ...root, command: false }, word.includes("=") ? [word] : argv.slice(i, i + 2))
    format = parsed.flags.logFormat
    if (!word.includes("=")) i++
  }
  const name = argv[i]
  if (name === undefined) throw new UsageError({ message: "which subcommand? run, serf, pool or cluster (liege --help)" })
  let rest = argv.slice(i + 1)
  const build = <F extends Record<string, Flag>>(
    sub: Subcommand<F>,
    loadProgram: () => Promise<(parsed: Parsed<F>) => Program>
  ) => {
    const parsed = parse(sub, rest)
    if (parsed.help) return Promise.resolve(helpText(sub))
    const chosen = (parsed.flags as { readonly logFormat?: Logging.LogFormat }).logFormat ?? format
    return loadProgram().then((program) => ({ program: program(parsed), format: chosen }))
  }
  switch (name) {
    case "run":
      return build(subcommands.run, async () => (await import("./run.ts")).program)
    case "serf":
      return build(subcommands.serf, async () => (await import("./serf.ts")).program)
    case "pool":
      return build(subcommands.pool, async () => (await import("./pool.ts")).program)
    case "cluster": {
      const which = rest[0]
      rest = rest.slice(1)
      if (which === "serf") return build(clusterSerf, async () => (await import("./cluster.ts")).serfProgram)
      if (which === "pool") return build(clusterPool, async () => (await import("./cluster.ts")).poolProgram)
      throw new UsageError({ message: `cluster needs serf or pool, got ${JSON.stringify(which ?? "")} (liege --help)` })
    }
    default:
      throw new UsageError({ message: `unknown subcommand ${JSON.stringify(name)}: run, serf, pool or cluster (liege --help)` })
  }
}

const exitWith = (status: number, line: string | undefined) => {
  if (line !== undefined) process.stderr.write(line + "\n")
  process.exit(status)
}

/** Runs the command line and exits the process with its status. */
export const main = (argv: ReadonlyArray<string>): void => {
  load(argv).then(
    (loaded) => {
      if (typeof loaded === "string") {
        process.stdout.write(loaded)
        return
      }
      let interrupt = () => {}
      const shutdown = makeShutdown(() => interrupt())
      const program = loaded.program.pipe(
        Effect.provideService(Shutdown, shutdown.service),
        Effect.provide(Logging.layer(loaded.format ?? Logging.defaultFormat()))
      )
      // The liege process's root fiber (the host's one `runFork`; the other in src/ is the root
      // of an RPC worker process, worker/rpc.ts): it owns the subcommand's scope, and with it
      // every component and fiber liege starts.
      const fiber = Effect.runFork(program)
      interrupt = () => fiber.interruptUnsafe()
      fiber.addObserver((exit) => {
        // the signal handlers stay until the process is gone: a SIGTERM that arrives as liege exits
        // on its own must not kill it with the default action (and lose its exit status)
        const { status, line } = statusOf(exit)
        exitWith(status, line)
      })
    },
    (e: unknown) => exitWith(e instanceof UsageError ? 2 : 1, `liege: ${lineOf(e)}`)
  )
}
