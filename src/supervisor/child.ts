/**
 * One child process under an escalating coordinator (SPEC §4).
 *
 * The spawn is ours (`node:child_process`), so that the exit code and the
 * terminating signal are data, and so that every escalation is bounded:
 *
 *   close stdin → `grace` → SIGTERM → `grace` → SIGKILL → `killWait` → last poll
 *
 * It begins when the owning Scope closes, when `stop` is asked, or when
 * `timeout` expires, and it ends when the child has exited and (with
 * `killTree`) no live member of its process group is left, or when the
 * windows have run out. The result is published exactly once, when the child
 * exits or, failing that, at the end of the escalation.
 */
import { spawn as nodeSpawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import { Readable, type Writable } from "node:stream"
import { Deferred, Effect, Option, Schema, type Scope } from "effect"
import { LineSplitter } from "../internal/lines.ts"
import { type LogPump, makeLogPump } from "../internal/logpump.ts"
import { decodeOptions, DurationInput, toMillis } from "../internal/options.ts"
import { InvalidOptions } from "../errors.ts"
import { SpawnFailed } from "./errors.ts"
import { isAlive, liveMembers } from "./group.ts"
import { Result, type SentSignal } from "./result.ts"

const ReadableSource = Schema.declare((u: unknown): u is Readable => u instanceof Readable, {
  expected: "a Readable stream"
})

const Command = Schema.String.pipe(Schema.check(Schema.makeFilter((s: string) =>
  s.length === 0 ? "expected a command (a non-empty string)" : s.includes("\0") ? "contains a NUL byte" : undefined
)))

export const SupervisorOptions = Schema.Struct({
  /** The program to run (looked up on PATH; no shell). */
  command: Command,
  args: Schema.optional(Schema.Array(Schema.String)),
  /** Variables added to (or overriding) the host's environment. */
  env: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  cwd: Schema.optional(Schema.String),
  /** Natural-exit window and SIGTERM window (default 5 s). */
  grace: Schema.optional(DurationInput),
  /** Wait after SIGKILL (default 1 s). */
  killWait: Schema.optional(DurationInput),
  /** Start the escalation after this long. */
  timeout: Schema.optional(DurationInput),
  /** The child leads its own process group and signals go to the group (default true). */
  killTree: Schema.optional(Schema.Boolean),
  /** "pipe" (default: `child.stdin`), "ignore", "inherit", or a Readable piped in until the escalation starts. */
  stdin: Schema.optional(Schema.Union([Schema.Literals(["pipe", "ignore", "inherit"]), ReadableSource])),
  /** "log" (default: drained, logged line by line), "pipe" (`child.stdout`), "inherit", "ignore". */
  stdout: Schema.optional(Schema.Literals(["log", "pipe", "inherit", "ignore"])),
  /** "log" (default: drained, logged line by line), "inherit", "ignore". */
  stderr: Schema.optional(Schema.Literals(["log", "inherit", "ignore"])),
  /** Added to every log line about this child (besides its pid). */
  annotations: Schema.optional(Schema.Record(Schema.String, Schema.Unknown))
})
export type SupervisorOptions = typeof SupervisorOptions.Type

export interface Child {
  readonly pid: number
  /** The process group the child leads (`killTree`), or undefined. */
  readonly pgid: number | undefined
  /** The child's stdin, with `stdin: "pipe"`. */
  readonly stdin: Writable | undefined
  /** The child's stdout, with `stdout: "pipe"`. */
  readonly stdout: Readable | undefined
  /** Logs with the child's pid and annotations. */
  readonly log: LogPump
  /** The one result; waits for it. Readable while running and after the scope closed. */
  readonly result: Effect.Effect<Result>
  /** Starts the escalation (once) and waits until it has ended. */
  readonly stop: Effect.Effect<Result>
  /** Kills now: SIGKILL to the group without the grace windows (for a child known to be stuck). */
  readonly kill: Effect.Effect<Result>
  /** True until the child's exit is observed. */
  readonly running: () => boolean
}

interface Settings {
  readonly graceMs: number
  readonly killWaitMs: number
  readonly killTree: boolean
  readonly source: Readable | undefined
}

class Coordinator {
  readonly startedAt = performance.now()
  readonly exited = Deferred.makeUnsafe<void>()
  readonly published = Deferred.makeUnsafe<Result>()
  readonly ended = Deferred.makeUnsafe<void>()
  readonly pid: number
  exit: { readonly code: number | null; readonly signal: string | null } | undefined = undefined
  sent: SentSignal | null = null
  defect: string | null = null
  escalating = false
  /** Set by `kill`: the escalation skips the grace windows. */
  urgent = false
  readonly cp: ChildProcess
  readonly settings: Settings

  constructor(cp: ChildProcess, settings: Settings) {
    this.cp = cp
    this.settings = settings
    this.pid = cp.pid!
    cp.on("exit", (code, signal) => {
      this.exit = { code, signal }
      this.publish(this.sent === null ? "Clean" : "Escalated", code, signal)
      Deferred.doneUnsafe(this.exited, Effect.void)
    })
    cp.on("error", (e) => {
      this.defect ??= `child process error: ${e.message}`
    })
  }

  publish(termination: Result["termination"], code: number | null, signal: string | null): void {
    if (Deferred.isDoneUnsafe(this.published)) return
    Deferred.doneUnsafe(
      this.published,
      Effect.succeed(
        new Result({
          termination,
          code,
          signal,
          sent: this.sent,
          pid: this.pid,
          ms: Math.round(performance.now() - this.startedAt),
          defect: this.defect
        })
      )
    )
  }

  /** Nothing of ours is left: the child exited and, with killTree, its group has no live member. */
  settled(): boolean {
    if (this.exit === undefined) return false
    return !this.settings.killTree || liveMembers(this.pid).length === 0
  }

  signal(sig: SentSignal): void {
    const { killTree } = this.settings
    const leaderAlive = this.exit === undefined
    try {
      if (killTree) {
        if (liveMembers(this.pid).length === 0) return
        process.kill(-this.pid, sig)
      } else if (leaderAlive) {
        process.kill(this.pid, sig)
      } else {
        return
      }
      if (leaderAlive) this.sent = sig
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code !== "ESRCH") this.defect ??= `could not send ${sig} to ${killTree ? "group " : ""}${this.pid}: ${code}`
    }
  }

  closeStdin(): void {
    const { source } = this.settings
    const stdin = this.cp.stdin
    if (source !== undefined && stdin !== null) source.unpipe(stdin)
    if (stdin !== null && !stdin.writableEnded) stdin.end()
  }

  /** Waits up to `ms` for `settled()`; true when it happened. */
  settle(ms: number): Effect.Effect<boolean> {
    const self = this
    const wait = Effect.gen(function*() {
      yield* Deferred.await(self.exited)
      let delay = 2
      while (!self.settled()) {
        yield* Effect.sleep(delay)
        delay = Math.min(delay * 2, 25)
      }
    })
    return Effect.map(Effect.timeoutOption(wait, ms), Option.isSome)
  }

  /** Waits (bounded) for the pipes to close, then makes sure they are. */
  closeStdio(ms: number): Effect.Effect<void> {
    const cp = this.cp
    const open = [cp.stdin, cp.stdout, cp.stderr].filter((s) => s !== null && !s.destroyed)
    const closed = Effect.callback<void>((resume) => {
      let left = open.length
      if (left === 0) return resume(Effect.void)
      for (const s of open) {
        s!.once("close", () => {
          if (--left === 0) resume(Effect.void)
        })
      }
    })
    return Effect.timeoutOption(closed, ms).pipe(
      Effect.andThen(Effect.sync(() => {
        for (const s of [cp.stdin, cp.stdout, cp.stderr]) s?.destroy()
        cp.unref()
      }))
    )
  }

  readonly escalation: Effect.Effect<void> = Effect.suspend(() => {
    const { graceMs, killWaitMs } = this.settings
    const self = this
    const urgent = this.urgent
    const deadline = performance.now() + (urgent ? 0 : 2 * graceMs) + killWaitMs
    return Effect.gen(function*() {
      self.closeStdin()
      if (urgent) {
        self.signal("SIGKILL")
        yield* self.settle(killWaitMs)
      } else if (!(yield* self.settle(graceMs))) {
        self.signal("SIGTERM")
        if (!(yield* self.settle(graceMs))) {
          self.signal("SIGKILL")
          yield* self.settle(killWaitMs)
        }
      }
      // last poll
      if (self.exit === undefined && !isAlive(self.pid)) {
        self.defect ??= "the child is gone but its exit was not observed"
      }
      if (self.exit === undefined) {
        if (self.sent === "SIGKILL") self.publish("Escalated", null, null)
        else self.publish("Indeterminate", null, null)
      }
      yield* self.closeStdio(Math.max(0, deadline - performance.now()))
    }).pipe(Effect.ensuring(Effect.sync(() => Deferred.doneUnsafe(self.ended, Effect.void))))
  })

  readonly startEscalation: Effect.Effect<void> = Effect.suspend(() => {
    if (this.escalating) return Effect.void
    this.escalating = true
    // One of the two detached fibers in src/ (the other: a cluster runner's leaving, in
    // src/cli/runner-life.ts): the escalation must run to its end even when the fiber
    // that asked for it (a `stop` caller, a closing scope) is interrupted — a half-done
    // escalation would leave the child running. It is bounded by 2·grace + killWait.
    return Effect.asVoid(Effect.forkDetach(this.escalation))
  })

  readonly stop: Effect.Effect<Result> = Effect.andThen(
    this.startEscalation,
    Effect.andThen(Deferred.await(this.ended), Deferred.await(this.published))
  )

  /** SIGKILL now (no grace windows), then `killWait` and the last poll. */
  readonly kill: Effect.Effect<Result> = Effect.suspend(() => {
    this.urgent = true
    if (this.escalating) this.signal("SIGKILL")
    return this.stop
  })
}

const decode = (input: unknown) =>
  decodeOptions(SupervisorOptions, input, ({ field, reason }) => new InvalidOptions({ field, reason }))

const checkCwd = (cwd: string | undefined): Effect.Effect<void, InvalidOptions> => {
  if (cwd === undefined) return Effect.void
  try {
    if (fs.statSync(cwd).isDirectory()) return Effect.void
    return Effect.fail(new InvalidOptions({ field: "cwd", reason: `${cwd} is not a directory` }))
  } catch (e) {
    return Effect.fail(new InvalidOptions({ field: "cwd", reason: `${cwd}: ${(e as NodeJS.ErrnoException).code}` }))
  }
}

const startProcess = (options: SupervisorOptions, settings: Settings) =>
  Effect.callback<ChildProcess, SpawnFailed>((resume) => {
    const stdin = options.stdin ?? "pipe"
    const stdout = options.stdout ?? "log"
    const stderr = options.stderr ?? "log"
    const cp = nodeSpawn(options.command, options.args ?? [], {
      cwd: options.cwd,
      env: options.env === undefined ? process.env : { ...process.env, ...options.env },
      detached: settings.killTree,
      stdio: [
        typeof stdin === "string" ? stdin : "pipe",
        stdout === "log" ? "pipe" : stdout,
        stderr === "log" ? "pipe" : stderr
      ]
    })
    if (cp.pid !== undefined) return resume(Effect.succeed(cp))
    cp.once("error", (e: NodeJS.ErrnoException) => {
      for (const s of [cp.stdin, cp.stdout, cp.stderr]) s?.destroy()
      resume(Effect.fail(new SpawnFailed({ command: options.command, code: e.code ?? "UNKNOWN", reason: e.message })))
    })
  })

/**
 * Spawns a supervised child owned by the current Scope. Options are checked
 * before anything is spawned (`InvalidOptions` names the field and the reason).
 */
export const spawn = (input: Schema.Codec.Encoded<typeof SupervisorOptions> | SupervisorOptions): Effect.Effect<
  Child,
  InvalidOptions | SpawnFailed,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const options = yield* decode(input)
    yield* checkCwd(options.cwd)
    const settings: Settings = {
      graceMs: toMillis(options.grace ?? 5000),
      killWaitMs: toMillis(options.killWait ?? 1000),
      killTree: options.killTree ?? true,
      source: typeof options.stdin === "object" ? options.stdin : undefined
    }
    const annotations: Record<string, unknown> = { ...options.annotations }
    const log = yield* makeLogPump(annotations)
    const coordinator = yield* Effect.acquireRelease(
      Effect.map(startProcess(options, settings), (cp) => {
        annotations["pid"] = cp.pid
        return new Coordinator(cp, settings)
      }),
      (c) => c.stop
    )
    const cp = coordinator.cp
    // Pipes we hand out or drain must never raise an unhandled 'error' (EPIPE and the like).
    for (const s of [cp.stdin, cp.stdout, cp.stderr]) s?.on("error", () => {})
    if (settings.source !== undefined && cp.stdin !== null) settings.source.pipe(cp.stdin)
    const drain = (stream: Readable | null, name: string) => {
      if (stream === null) return
      const lines = new LineSplitter((line) => log.line("Info", `${name}: ${line}`), 4096)
      stream.on("data", (chunk: Buffer) => lines.push(chunk))
      stream.on("end", () => lines.end())
    }
    if ((options.stdout ?? "log") === "log") drain(cp.stdout, "stdout")
    if ((options.stderr ?? "log") === "log") drain(cp.stderr, "stderr")
    if (options.timeout !== undefined) {
      yield* Effect.forkScoped(Effect.andThen(Effect.sleep(toMillis(options.timeout)), coordinator.startEscalation))
    }
    return {
      pid: coordinator.pid,
      pgid: settings.killTree ? coordinator.pid : undefined,
      stdin: options.stdin === "pipe" || options.stdin === undefined ? cp.stdin ?? undefined : undefined,
      stdout: options.stdout === "pipe" ? cp.stdout ?? undefined : undefined,
      log,
      result: Deferred.await(coordinator.published),
      stop: coordinator.stop,
      kill: coordinator.kill,
      running: () => coordinator.exit === undefined
    } satisfies Child
  })
