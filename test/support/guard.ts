/**
 * Suite-level leak guard, run around every test file:
 *
 * - every process started by the file carries `LIEGE_LEAK_TAG` in its
 *   environment (children inherit it); after the file, none may be alive
 *   (zombies count as dead);
 * - the file may not leave a handle open that it did not start with
 *   (child processes, pipes, sockets, servers, timers).
 */
import { afterAll, beforeAll } from "vitest"
import { liveProcesses } from "./proc.ts"

const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`
process.env["LIEGE_LEAK_TAG"] = tag

const taggedAlive = (): Array<string> =>
  liveProcesses({ env: `LIEGE_LEAK_TAG=${tag}` }).map((p) => `${p.pid} [${p.state}] ${p.cmdline}`)

const WATCHED = new Set([
  "ProcessWrap",
  "PipeWrap",
  "TCPWrap",
  "TCPServerWrap",
  "TCPSocketWrap",
  "TTYWrap",
  "UDPWrap",
  "Timeout",
  "FSEventWrap",
  "StatWatcher"
])

const census = (): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const kind of process.getActiveResourcesInfo()) {
    if (WATCHED.has(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1)
  }
  return counts
}

const extra = (before: Map<string, number>): Array<string> => {
  const out: Array<string> = []
  for (const [kind, n] of census()) {
    const was = before.get(kind) ?? 0
    if (n > was) out.push(`${n - was} × ${kind}`)
  }
  return out
}

let baseline = new Map<string, number>()

beforeAll(() => {
  baseline = census()
})

afterAll(async () => {
  const deadline = Date.now() + 5000
  let procs = taggedAlive()
  let handles = extra(baseline)
  while ((procs.length > 0 || handles.length > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    procs = taggedAlive()
    handles = extra(baseline)
  }
  const problems: Array<string> = []
  if (procs.length > 0) problems.push(`processes left alive:\n  ${procs.join("\n  ")}`)
  if (handles.length > 0) problems.push(`handles left open: ${handles.join(", ")}`)
  if (problems.length > 0) throw new Error(`leak guard: ${problems.join("\n")}`)
})
