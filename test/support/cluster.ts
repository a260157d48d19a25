/**
 * Runners of a liege cluster for tests: real `liege cluster …` processes on
 * loopback, sharing one PostgreSQL database.
 */
import { Schema } from "effect"
import { RunnerStatus } from "../../src/status/document.ts"
import { healthy, request, type Running, serve, serveWith } from "./http.ts"
import type { NetHost } from "./netns.ts"
import { freePort, liegeBin, node } from "./procs.ts"

export interface RunnerProcess extends Running {
  readonly runnerPort: number
}

/**
 * Starts one runner: `liege cluster KIND --database URL --runner 127.0.0.1:P
 * --listen 127.0.0.1:0 ARGS…`, ready (healthy). In `host` (a network
 * namespace, ./netns.ts), it runs there, on the host's address: its runner
 * port is then fixed (34000) unless given.
 */
export const startRunner = async (
  kind: "serf" | "pool",
  database: string,
  args: ReadonlyArray<string>,
  options: {
    readonly runnerPort?: number
    readonly env?: Record<string, string>
    readonly host?: NetHost
    /** No `--database` flag: the runner finds its database in `env`. */
    readonly noDatabaseFlag?: boolean
  } = {}
): Promise<RunnerProcess> => {
  const address = options.host?.address ?? "127.0.0.1"
  const runnerPort = options.runnerPort ?? (options.host === undefined ? await freePort() : 34000)
  const [flags, command] = splitAt(args)
  const argv = ["cluster", kind, ...(options.noDatabaseFlag === true ? [] : ["--database", database]), "--runner", `${address}:${runnerPort}`, "--listen", `${address}:0`, "--log-format", "json", ...flags, "--", ...command]
  const s = options.host === undefined
    ? await serve(argv, options.env ?? {})
    : await serveWith(...options.host.wrap(node, [liegeBin, ...argv]), { env: options.env ?? {} })
  await healthy(s.url, 30_000)
  return { ...s, runnerPort }
}

const splitAt = (args: ReadonlyArray<string>): [ReadonlyArray<string>, ReadonlyArray<string>] => {
  const i = args.indexOf("--")
  return i === -1 ? [args, []] : [args.slice(0, i), args.slice(i + 1)]
}

/** SIGKILL, then wait for the exit. */
export const kill9 = async (r: Running) => {
  r.proc.kill("SIGKILL")
  await r.exited
}

/** A runner's status document (SPEC §10). */
export const runnerStatus = async (r: Running) => Schema.decodeUnknownSync(RunnerStatus)((await request("GET", `${r.url}/v1/status`)).body)

/**
 * Resolves once every shard has one owner among `runners` and the split is
 * about even (the cluster has settled: mid-rebalance, one runner may hold
 * only a few shards, and a dozen serfs could all land on the other).
 */
export const settled = async (runners: ReadonlyArray<Running>, ms = 30_000): Promise<void> => {
  const deadline = Date.now() + ms
  for (;;) {
    const shards = await Promise.all(runners.map(async (r) => (await runnerStatus(r)).shards))
    if (shards.every((n) => n >= (0.8 * 300) / runners.length) && shards.reduce((a, b) => a + b, 0) === 300) return
    if (Date.now() > deadline) throw new Error(`the runners never split the shards: ${shards.join(", ")}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

