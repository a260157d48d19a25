/**
 * Resident memory for `maxMemoryMb` (SPEC §5): it counts the worker's whole
 * process group (a worker leads its own group, pgid = its pid), not only its
 * first process.
 *
 * Linux only (read from /proc); elsewhere nothing is measured. One pass over
 * /proc per call serves every group asked about: each process's `stat` gives
 * its state, its group and its resident pages. A group's figure is the sum of
 * its members' RSS, as `ps` would add it up: a page shared by two members
 * (copy-on-write after a fork, a shared library) counts twice.
 */
import * as fs from "node:fs"

const hasProc = fs.existsSync("/proc/self/stat")

/** A stat line is well under 1 KiB (52 numbers and a comm of at most 64 bytes). */
const buffer = Buffer.allocUnsafe(4096)

/** Reads a small /proc file, or undefined when the process is gone (ENOENT, ESRCH). */
const readSmall = (file: string): string | undefined => {
  let fd: number
  try {
    fd = fs.openSync(file, "r")
  } catch {
    return undefined
  }
  try {
    return buffer.toString("latin1", 0, fs.readSync(fd, buffer, 0, buffer.length, 0))
  } catch {
    return undefined
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * The fields of a stat line after the comm, from field 3 (state) on: the comm
 * is in parentheses and may hold spaces and ')' itself, so we cut after the
 * last ')'. Index i is field i + 3 of proc(5): 0 state, 2 pgrp, 21 rss (pages).
 */
const statFields = (text: string): Array<string> => text.slice(text.lastIndexOf(")") + 2).split(" ")

/** A process's resident memory in KiB (VmRSS), if it still runs. */
const vmRssKb = (pid: number | "self"): number | undefined => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readSmall(`/proc/${pid}/status`) ?? "")
  return m === null ? undefined : Number(m[1])
}

let pageKb: number | undefined

/**
 * The page size in KiB, found once: our own rss in pages (stat) against our
 * VmRSS in KiB (status), two reads of the same counter a moment apart, the
 * ratio rounded to a power of two. 4 when that cannot be read.
 */
const pageSizeKb = (): number => {
  if (pageKb !== undefined) return pageKb
  const pages = Number(statFields(readSmall("/proc/self/stat") ?? "")[21])
  const kb = vmRssKb("self")
  pageKb = pages > 0 && kb !== undefined && kb > 0 ? 2 ** Math.max(0, Math.round(Math.log2(kb / pages))) : 4
  return pageKb
}

/** A process's resident memory in MiB (VmRSS), if it still runs: that process alone, not its group. */
export const readRssMb = (pid: number): number | undefined => {
  const kb = vmRssKb(pid)
  return kb === undefined ? undefined : kb / 1024
}

/**
 * For each process group id, the resident memory in MiB of its live members
 * added up. A group with no live member (none at all, or only zombies) is
 * absent from the answer; so is every group without /proc. A process that
 * ends during the pass is left out. It costs about 10 µs for each process on
 * the machine (an open, a read and a close of its stat): 1 ms for a hundred.
 */
export const groupRssMb = (pgids: ReadonlyArray<number>): Map<number, number> => {
  const sums = new Map<number, number>()
  // 0 would be the kernel's threads, a negative id no group at all
  const wanted = new Set(pgids.filter((pgid) => pgid > 0))
  if (wanted.size === 0 || !hasProc) return sums
  const mbPerPage = pageSizeKb() / 1024
  // only thread-group leaders are listed: a process's threads are not counted again
  for (const name of fs.readdirSync("/proc")) {
    const c = name.charCodeAt(0)
    if (c < 48 || c > 57) continue
    const text = readSmall(`/proc/${name}/stat`)
    if (text === undefined) continue
    const fields = statFields(text)
    const pgrp = Number(fields[2])
    if (!wanted.has(pgrp) || fields[0] === "Z" || fields[0] === "X") continue
    sums.set(pgrp, (sums.get(pgrp) ?? 0) + Number(fields[21]) * mbPerPage)
  }
  return sums
}
