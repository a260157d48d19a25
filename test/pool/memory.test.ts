/**
 * `maxMemoryMb` measures a worker's whole process group (SPEC §5): real
 * processes holding real resident memory, each in a group of its own.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { groupRssMb, readRssMb } from "../../src/pool/memory.ts"
import { make } from "../../src/pool/pool.ts"
import { liveMembers } from "../../src/supervisor/group.ts"
import { live } from "../support/live.ts"
import { eventually, node, root } from "../support/procs.ts"

/** Fills `argv[1]` MiB so that every page is resident, says "held", and waits for stdin to end. */
const HOLDER = `
const held = Buffer.allocUnsafe(Number(process.argv[1]) * 1048576).fill(1)
process.stdout.write("held\\n")
process.stdin.on("end", () => process.exit(held.length > 0 ? 0 : 1)).resume()
`

/** A small leader that starts a HOLDER child (in the leader's group) and says "held" when the child does. */
const LEADER = `
const child = require("node:child_process").spawn(process.execPath, ["-e", ${JSON.stringify(HOLDER)}, process.argv[1]], { stdio: ["pipe", "pipe", "inherit"] })
child.stdout.on("data", (d) => { if (String(d).includes("held")) process.stdout.write("held\\n") })
process.stdin.on("end", () => child.stdin.end()).resume()
`

/**
 * Starts `command` leading a group of its own, and resolves once it printed
 * "held". The group is SIGKILLed, and awaited until no member is left, when
 * the test ends.
 */
const group = (command: string, script: string, mb: number) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<ChildProcess>((resolve, reject) => {
        const cp = spawn(command, ["-e", script, String(mb)], { detached: true, stdio: ["pipe", "pipe", "inherit"] })
        let out = ""
        cp.stdout!.setEncoding("utf8").on("data", (d: string) => {
          out += d
          if (out.includes("held\n")) resolve(cp)
        })
        cp.on("exit", (code, signal) => reject(new Error(`exited (${signal ?? code}) before holding`)))
      })
    ),
    (cp) =>
      Effect.promise(async () => {
        const exited = new Promise<void>((done) => cp.exitCode !== null || cp.signalCode !== null ? done() : cp.once("exit", () => done()))
        try {
          process.kill(-cp.pid!, "SIGKILL")
        } catch {
          // already gone
        }
        await exited
        cp.stdout!.destroy()
        cp.stdin!.destroy()
        await eventually(() => liveMembers(cp.pid!).length === 0, 5000, `group ${cp.pid} to be gone`)
      })
  )

describe("group memory", () => {
  live("a group's resident memory counts the memory its leader's child holds", () =>
    Effect.gen(function*() {
      const cp = yield* group(node, LEADER, 200)
      const pid = cp.pid!
      expect(liveMembers(pid).length).toBe(2)
      const sums = groupRssMb([pid])
      expect(sums.get(pid)).toBeGreaterThanOrEqual(200)
      // the leader alone holds only what a small node program does
      expect(readRssMb(pid)).toBeLessThan(120)
      // VmRSS (status) and rss × page size (stat) agree: the page size is right
      const byStatus = liveMembers(pid).reduce((sum, member) => sum + (readRssMb(member) ?? 0), 0)
      expect(Math.abs(sums.get(pid)! - byStatus)).toBeLessThan(5)
    }))

  it("a group with no live process is absent", () => {
    // a pid above /proc/sys/kernel/pid_max is never anyone's process group
    const none = Number(fs.readFileSync("/proc/sys/kernel/pid_max", "utf8")) + 1
    expect(groupRssMb([none]).has(none)).toBe(false)
    expect(groupRssMb([]).size).toBe(0)
    expect(groupRssMb([0, -1]).size).toBe(0)
  })

  live("a process whose comm holds spaces and ')' is counted in its group", () =>
    Effect.gen(function*() {
      // read from the first ')', this comm would say: state Z, parent 9, group 9. (Node names its
      // main thread "MainThread" whatever its executable is called; `process.title` renames it.)
      const name = "m) Z 9 9 9 ("
      const cp = yield* group(node, `process.title = ${JSON.stringify(name)}\n${HOLDER}`, 64)
      const pid = cp.pid!
      expect(fs.readFileSync(`/proc/${pid}/comm`, "utf8").trimEnd()).toBe(name)
      const sums = groupRssMb([pid, 9])
      expect(sums.get(pid)).toBeGreaterThanOrEqual(64)
      expect(sums.get(9) ?? 0).toBeLessThan(64)
    }))

  live("examples/memory-worker.ts: a pool worker's held child counts against its group", () =>
    Effect.gen(function*() {
      const pool = yield* make({ command: node, args: [path.join(root, "examples/memory-worker.ts")], workers: 1 })
      const pid = (yield* pool.submit({ op: "pid" })) as number
      const held = (yield* pool.submit({ op: "hold", mb: 150 })) as { pid: number; mb: number }
      expect(held.mb).toBe(150)
      expect(liveMembers(pid)).toContain(held.pid)
      expect(groupRssMb([pid]).get(pid)).toBeGreaterThanOrEqual(150)
      expect(readRssMb(pid)).toBeLessThan(120)
      expect(yield* pool.submit({ op: "release" })).toEqual({ released: 1 })
      expect(liveMembers(pid)).toEqual([pid])
      expect(groupRssMb([pid]).get(pid)).toBeLessThan(120)
    }))
})
