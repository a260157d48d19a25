/**
 * A worker spoken to by hand, as the host speaks to it: frames of the codec
 * named in `LIEGE_CODEC` written to its stdin, frames read from its stdout
 * and decoded as the host decodes them. No part of the host is used, so the
 * tests that use it look at the worker side alone.
 *
 * Every worker started here is tracked; `stopAll` (in an `afterEach`) kills
 * whatever a failed test left running and waits for it to exit.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process"
import * as path from "node:path"
import type { Readable, Writable } from "node:stream"
import { type Codec, codec as codecOf, type CodecName } from "../../src/wire/codec.ts"
import { FrameDecoder } from "../../src/wire/frame.ts"
import { node, root } from "../support/procs.ts"

export interface Program {
  readonly command: string
  readonly args: ReadonlyArray<string>
}

export const programs = {
  node: {
    pool: { command: node, args: [path.join(root, "examples/pool-worker.ts")] },
    serf: { command: node, args: [path.join(root, "examples/kv-serf.ts")] }
  },
  python: {
    pool: { command: "python3", args: [path.join(root, "examples/python/pool_worker.py")] },
    serf: { command: "python3", args: [path.join(root, "examples/python/kv_serf.py")] }
  }
} satisfies Record<string, Record<string, Program>>

export const languages = ["node", "python"] as const

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** How long `next` waits for a message before it fails the test (it never hangs it). */
const WAIT_MS = 10_000

const running = new Set<Talk>()

export class Talk {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>
  private readonly codec: Codec
  private readonly decoder = new FrameDecoder()
  /** Messages read and not yet taken by `next`. */
  private readonly inbox: Array<unknown> = []
  /** A `next` waiting for a message. */
  private waiting: ((m: unknown) => void) | undefined
  private closed: Error | undefined
  private failed: ((e: Error) => void) | undefined
  readonly exited: Promise<Exited>
  /** What the worker wrote to stderr (kept for failure messages). */
  stderr = ""

  constructor(program: Program, codec: CodecName, env: Record<string, string> = {}) {
    this.codec = codecOf(codec)
    this.child = spawn(program.command, [...program.args], {
      env: { ...process.env, LIEGE_CODEC: codec, LIEGE_PROTOCOL: "1", LIEGE_WORKER_ID: "1", ...env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    running.add(this)
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        running.delete(this)
        resolve({ code, signal })
      })
    })
    this.child.on("error", (e) => this.fail(e))
    this.child.stdin.on("error", () => {})
    this.child.stderr.setEncoding("utf8").on("data", (text: string) => (this.stderr += text))
    this.child.stdout.on("data", (chunk: Buffer) =>
      this.decoder.push(chunk, (payload) => {
        const message = this.codec.decode(payload)
        const waiting = this.waiting
        this.waiting = undefined
        if (waiting !== undefined) waiting(message)
        else this.inbox.push(message)
      }))
    this.child.stdout.on("end", () => this.fail(new Error("the worker closed its stdout")))
  }

  get pid(): number {
    return this.child.pid!
  }

  private fail(e: Error) {
    this.closed ??= e
    const failed = this.failed
    this.failed = undefined
    this.waiting = undefined
    failed?.(e)
  }

  send(message: unknown): void {
    this.child.stdin.write(this.codec.frame(message))
  }

  /** The worker's next message; fails (naming `what`) if none comes within 10 s or its stdout ends. */
  next(what: string): Promise<unknown> {
    if (this.inbox.length > 0) return Promise.resolve(this.inbox.shift())
    if (this.closed !== undefined) return Promise.reject(new Error(`${this.closed.message}; expected ${what}\n${this.stderr}`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined
        this.failed = undefined
        reject(new Error(`no message from the worker within ${WAIT_MS} ms; expected ${what}\n${this.stderr}`))
      }, WAIT_MS)
      this.waiting = (m) => {
        clearTimeout(timer)
        this.failed = undefined
        resolve(m)
      }
      this.failed = (e) => {
        clearTimeout(timer)
        reject(new Error(`${e.message}; expected ${what}\n${this.stderr}`))
      }
    })
  }

  /** Ends its stdin (as the host does to let a worker go) and waits for it to exit. */
  end(): Promise<Exited> {
    this.child.stdin.end()
    return this.exited
  }

  kill(): Promise<Exited> {
    this.child.kill("SIGKILL")
    return this.exited
  }
}

/** Kills every worker still running (a test that failed half way) and waits for each to exit. */
export const stopAll = async (): Promise<void> => {
  await Promise.all([...running].map((t) => t.kill()))
}
