/**
 * Runners of a liege cluster for tests: real `liege cluster …` processes on
 * loopback, sharing one PostgreSQL database.
 */
import * as net from "node:net"
import { healthy, type Running, serve } from "./http.ts"

/** A free TCP port on 127.0.0.1 (for a runner's own address). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

export interface RunnerProcess extends Running {
  readonly runnerPort: number
}

/** Starts one runner: `liege cluster KIND --database URL --runner 127.0.0.1:P --listen 127.0.0.1:0 ARGS…`, ready (healthy). */
export const startRunner = async (
  kind: "serf" | "pool",
  database: string,
  args: ReadonlyArray<string>,
  options: { readonly runnerPort?: number; readonly env?: Record<string, string> } = {}
): Promise<RunnerProcess> => {
  const runnerPort = options.runnerPort ?? await freePort()
  const [flags, command] = splitAt(args)
  const s = await serve(["cluster", kind, "--database", database, "--runner", `127.0.0.1:${runnerPort}`, "--listen", "127.0.0.1:0", "--log-format", "json", ...flags, "--", ...command], options.env ?? {})
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
