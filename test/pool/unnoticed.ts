/**
 * Killing a pool worker behind the pool's back, for the tests of requests
 * that never reach their worker.
 */
import { Effect } from "effect"
import * as fs from "node:fs"

/** Dead, not yet reaped: every thread has exited (so its files, the pipes, are closed). */
const zombie = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state === "Z" && fs.readdirSync(`/proc/${pid}/task`).length <= 1
  } catch {
    return true
  }
}

/**
 * SIGKILLs the worker and waits, without giving the event loop a turn, until
 * it is a zombie whose threads have all exited: its pipes are closed, but the
 * pool cannot have noticed (neither its exit nor the end of its stdout).
 */
export const killUnnoticed = (pid: number) =>
  Effect.sync(() => {
    process.kill(pid, "SIGKILL")
    const deadline = Date.now() + 5000
    while (!zombie(pid)) if (Date.now() > deadline) throw new Error(`${pid} did not die`)
  })
