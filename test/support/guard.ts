/**
 * Suite-level leak guard, run around every test file:
 *
 * - every process started by the file carries `LIEGE_LEAK_TAG` in its
 *   environment (children inherit it); after the file, none may be alive
 *   (zombies count as dead);
 * - the file may not leave a handle open that it did not start with
 *   (child processes, pipes, sockets, servers, timers).
 */
import * as fs from "node:fs"
import { afterAll, beforeAll } from "vitest"

const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`
process.env["LIEGE_LEAK_TAG"] = tag
const needle = Buffer.from(`LIEGE_LEAK_TAG=${tag}\0`)

const taggedAlive = (): Array<string> => {
  const found: Array<string> = []
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    try {
      if (!fs.readFileSync(`/proc/${name}/environ`).includes(needle)) continue
      const stat = fs.readFileSync(`/proc/${name}/stat`, "latin1")
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
      if (state === "Z" || state === "X") continue
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, "latin1").replace(/\0/g, " ").trim()
      found.push(`${name} [${state}] ${cmd}`)
    } catch {
      // gone meanwhile
    }
  }
  return found
}

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
