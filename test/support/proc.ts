/**
 * The machine's live processes, read from /proc (zombies count as dead): the
 * one scanner the leak guard, the laws and the package tests share.
 */
import * as fs from "node:fs"

export interface Found {
  readonly pid: number
  /** Its state letter (R, S, D, T…). */
  readonly state: string
  readonly cmdline: string
}

/** Live processes (not this one) whose environment holds `env` (`NAME=value`) and whose command line holds `cmdline`. */
export const liveProcesses = (where: { readonly env?: string; readonly cmdline?: string }): Array<Found> => {
  const needle = where.env === undefined ? undefined : Buffer.from(`${where.env}\0`)
  const found: Array<Found> = []
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    try {
      if (needle !== undefined && !fs.readFileSync(`/proc/${name}/environ`).includes(needle)) continue
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, "latin1").replace(/\0/g, " ").trim()
      if (where.cmdline !== undefined && !cmdline.includes(where.cmdline)) continue
      const stat = fs.readFileSync(`/proc/${name}/stat`, "latin1")
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
      if (state === "Z" || state === "X") continue
      found.push({ pid: Number(name), state, cmdline })
    } catch {
      // gone meanwhile
    }
  }
  return found
}
