import { type ChildProcess, spawn } from "node:child_process"
import * as http from "node:http"
import { onTestFinished } from "vitest"
import { liegeBin, node } from "./procs.ts"

export interface Reply {
  readonly status: number
  readonly body: any
  readonly text: string
  readonly headers: http.IncomingHttpHeaders
}

/**
 * One HTTP request on its own connection (no keep-alive pool left behind);
 * with `timeoutMs`, one that has no answer by then is given up (rejected).
 */
export const request = (
  method: string,
  url: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
  timeoutMs?: number
): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        let parsed: unknown = undefined
        try {
          parsed = JSON.parse(text)
        } catch {
          parsed = undefined
        }
        resolve({ status: res.statusCode!, body: parsed, text, headers: res.headers })
      })
      res.on("error", reject)
    })
    req.on("error", reject)
    if (timeoutMs !== undefined) {
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      req.on("close", () => clearTimeout(timer))
    }
    req.end(body)
  })

export const post = (url: string, value: unknown, headers?: Record<string, string>, timeoutMs?: number) =>
  request("POST", url, JSON.stringify(value), { "content-type": "application/json", ...headers }, timeoutMs)

export interface Running {
  readonly proc: ChildProcess
  readonly url: string
  readonly stderr: () => string
  readonly stdout: () => string
  /** Resolves with the exit status (or 128+signal). */
  readonly exited: Promise<number>
}

/** Starts `liege ARGS…` (from the repository's sources) and waits for its `listening on URL` line. */
export const serve = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Running> =>
  serveWith(node, [liegeBin, ...args], { env })

/** Starts `command ARGS…` (a `liege` server) and waits for its `listening on URL` line. */
export const serveWith = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string | undefined>; readonly cwd?: string } = {}
): Promise<Running> =>
  new Promise((resolve, reject) => {
    const proc = spawn(command, args, {
      env: { ...process.env, ...options.env },
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    const exited = new Promise<number>((r) =>
      proc.on("exit", (code, signal) => r(code ?? 128 + (signal === "SIGKILL" ? 9 : signal === "SIGTERM" ? 15 : 0)))
    )
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d))
    proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m !== null) resolve({ proc, url: m[1]!, stderr: () => err, stdout: () => out, exited })
    })
    exited.then((code) => reject(new Error(`liege exited ${code} before listening:\n${err}`)))
    // a test that fails before stopping it does not leave liege (and its workers) running
    onTestFinished(async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill("SIGTERM")
      await exited
    })
  })

/** Polls `GET /metrics` until its text contains `line`. */
export const metric = async (url: string, line: string, ms = 10_000) => {
  const deadline = Date.now() + ms
  for (;;) {
    const r = await request("GET", `${url}/metrics`)
    if (r.text.includes(line)) return
    if (Date.now() > deadline) throw new Error(`${url}/metrics never showed ${line}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Polls `GET /healthz` until it answers 200. */
export const healthy = async (url: string, ms = 20_000) => {
  const deadline = Date.now() + ms
  for (;;) {
    const r = await request("GET", `${url}/healthz`).catch(() => undefined)
    if (r?.status === 200) return
    if (Date.now() > deadline) throw new Error(`${url} never became healthy`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
