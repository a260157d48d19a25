/**
 * Who is still alive in a process group. `kill(-pgid, 0)` answers "someone",
 * but zombies count for it; on Linux we then read `/proc` and count only
 * members that are not zombies (a zombie is dead: it waits for its parent,
 * often init, to reap it).
 */
import * as fs from "node:fs"

const hasProc = fs.existsSync("/proc/self/stat")

/** Parses `/proc/<pid>/stat`: state letter, process group, start time (clock ticks after boot). */
const readStat = (
  pid: string
): { readonly state: string; readonly pgrp: number; readonly start: string } | undefined => {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
  } catch {
    return undefined
  }
  const close = text.lastIndexOf(")")
  const fields = text.slice(close + 2).split(" ")
  return { state: fields[0] ?? "", pgrp: Number(fields[2]), start: fields[19] ?? "" }
}

/** True when `pid` exists and is not a zombie. */
export const isAlive = (pid: number): boolean => {
  if (hasProc) {
    const stat = readStat(String(pid))
    return stat !== undefined && stat.state !== "Z" && stat.state !== "X"
  }
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * An identity for a live process that survives pid reuse: its pid and start
 * time. Undefined when the process is gone (or a zombie, or there is no /proc).
 */
export const processIdentity = (pid: number): string | undefined => {
  if (!hasProc) return undefined
  const stat = readStat(String(pid))
  if (stat === undefined || stat.state === "Z" || stat.state === "X") return undefined
  return `${pid}:${stat.start}`
}

/** The live (non-zombie) members of process group `pgid`. */
export const liveMembers = (pgid: number): Array<number> => {
  try {
    process.kill(-pgid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return []
  }
  if (!hasProc) return [pgid]
  const members: Array<number> = []
  for (const name of fs.readdirSync("/proc")) {
    const c = name.charCodeAt(0)
    if (c < 48 || c > 57) continue
    const stat = readStat(name)
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== "Z" && stat.state !== "X") members.push(Number(name))
  }
  return members
}

/** Sends `signal` to the group; false when nobody was there (or we may not). */
export const signalGroup = (pgid: number, signal: NodeJS.Signals): boolean => {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}
