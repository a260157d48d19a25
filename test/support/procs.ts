import { Effect } from "effect"
import { onTestFinished } from "vitest"
import { spawn } from "node:child_process"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const node = process.execPath
export const fixture = (name: string) => path.join(root, "test/fixtures", name)
export const liegeBin = path.join(root, "bin/liege.ts")

export interface Ran {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly pid: number
}

/**
 * Runs the `liege` command to completion (stdin from `input`, or closed).
 * `onSpawn` may act on the running process (send it a signal, …).
 */
export const liege = (
  args: ReadonlyArray<string>,
  options: {
    readonly input?: string
    readonly env?: Record<string, string>
    readonly onStdout?: (text: string, pid: number) => void
    readonly onStderr?: (text: string, pid: number) => void
  } = {}
): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const cp = spawn(node, [liegeBin, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    cp.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d
      options.onStdout?.(stdout, cp.pid!)
    })
    cp.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d
      options.onStderr?.(stderr, cp.pid!)
    })
    cp.on("error", reject)
    const closed = new Promise<void>((done) => cp.on("close", () => done()))
    cp.on("close", (status, signal) => resolve({ status, signal, stdout, stderr, pid: cp.pid! }))
    // a test that fails (or times out) before the command ends does not leave it running
    onTestFinished(async () => {
      if (cp.exitCode !== null || cp.signalCode !== null) return
      cp.kill("SIGTERM")
      await closed
    })
    cp.stdin.on("error", () => {})
    if (options.input !== undefined) cp.stdin.end(options.input)
    else cp.stdin.end()
  })

/** Polls `check` every 10 ms until it holds (or fails after `ms`). */
export const eventually = async (check: () => boolean, ms = 10_000, what = "condition"): Promise<void> => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** `eventually` as an interruptible Effect (no timer left behind when interrupted). */
export const until = (check: () => boolean, ms = 10_000, what = "condition") =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep(10)
    }
  })

/** A free TCP port on 127.0.0.1 (a runner's own address, a throwaway PostgreSQL). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })
