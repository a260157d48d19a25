import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Logger } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Child, spawn } from "../../src/supervisor/child.ts"
import { isAlive, liveMembers } from "../../src/supervisor/group.ts"
import { behaving } from "../support/behave.ts"
import { captureLogs } from "../support/logs.ts"
import { eventually, node } from "../support/procs.ts"

const quiet = Logger.layer([])
const fast = { grace: 200, killWait: 200 }

/** Spawns, runs `act` with the child, closes the scope; returns the child and how long the close took. */
const supervise = (
  options: Parameters<typeof spawn>[0],
  act: (c: Child) => Effect.Effect<unknown, unknown> = () => Effect.void
) =>
  Effect.gen(function*() {
    const handle = yield* Deferred.make<Child>()
    const closed = yield* Deferred.make<number>()
    yield* Effect.scoped(Effect.gen(function*() {
      const c = yield* spawn(options)
      yield* Deferred.succeed(handle, c)
      yield* act(c)
      const t0 = performance.now()
      yield* Effect.addFinalizer(() => Deferred.succeed(closed, t0).pipe(Effect.asVoid))
    }))
    const t0 = yield* Deferred.await(closed)
    return { child: yield* Deferred.await(handle), closeMs: performance.now() - t0 }
  }).pipe(Effect.provide(quiet))

describe("supervisor", () => {
  it.live("a child that exits on its own is Clean, with its code", () =>
    Effect.gen(function*() {
      const { child } = yield* supervise({ command: "sh", args: ["-c", "exit 7"] }, (c) => c.result)
      const r = yield* child.result
      expect(r.toReport()).toMatchObject({ termination: "Clean", code: 7, signal: null })
      expect(r.sent).toBeNull()
    }))

  it.live("a child killed by a signal nobody of ours sent is Clean, and the signal is data", () =>
    Effect.gen(function*() {
      const { child } = yield* supervise({ command: "sh", args: ["-c", "kill -USR1 $$"] }, (c) => c.result)
      const r = yield* child.result
      expect(r.toReport()).toMatchObject({ termination: "Clean", code: null, signal: "SIGUSR1" })
      expect(r.exitStatus).toBe(128 + os.constants.signals.SIGUSR1)
    }))

  it.live("closing the scope closes stdin first: a child that exits on EOF is Clean", () =>
    Effect.gen(function*() {
      const { child, closeMs } = yield* supervise({ command: "cat", ...fast })
      expect((yield* child.result).termination).toBe("Clean")
      expect(closeMs).toBeLessThan(200)
    }))

  it.live("a child that exits on SIGTERM is Escalated by SIGTERM, with the code it chose", () =>
    Effect.gen(function*() {
      const b = behaving({ onTerm: { exitAfter: 0, code: 42 }, onStdinEnd: "ignore" })
      const { child } = yield* supervise({ command: b.command, args: b.args, ...fast }, () =>
        Effect.promise(() => eventually(() => b.report().ready)))
      const r = yield* child.result
      expect(r.toReport()).toMatchObject({ termination: "Escalated", code: 42, signal: null })
      expect(r.sent).toBe("SIGTERM")
      expect(b.report().signals).toEqual(["SIGTERM"])
    }))

  it.live("a child that ignores SIGTERM is killed, within 2·grace + killWait", () =>
    Effect.gen(function*() {
      const b = behaving({ onTerm: "ignore", onStdinEnd: "ignore" })
      const { child, closeMs } = yield* supervise({ command: b.command, args: b.args, ...fast }, () =>
        Effect.promise(() => eventually(() => b.report().ready)))
      const r = yield* child.result
      expect(r.toReport()).toMatchObject({ termination: "Escalated", code: null, signal: "SIGKILL" })
      expect(r.sent).toBe("SIGKILL")
      expect(closeMs).toBeGreaterThanOrEqual(2 * 200)
      expect(closeMs).toBeLessThan(2 * 200 + 200 + 500)
    }))

  it.live("no member of the group survives the scope, even a grandchild that ignores SIGTERM", () =>
    Effect.gen(function*() {
      const b = behaving({ exitAfter: 0, code: 0, onTerm: "default", onStdinEnd: "exit", grandchild: true })
      const { child } = yield* supervise({ command: b.command, args: b.args, ...fast }, (c) => c.result)
      const r = yield* child.result
      expect(r.termination).toBe("Clean")
      const g = b.report().grandchild!
      expect(g).toBeGreaterThan(0)
      expect(isAlive(g)).toBe(false)
      expect(liveMembers(child.pid)).toEqual([])
    }))

  it.live("timeout starts the escalation", () =>
    Effect.gen(function*() {
      const { child } = yield* supervise({ command: "sleep", args: ["30"], grace: 100, timeout: 100 }, (c) => c.result)
      const r = yield* child.result
      expect(r.toReport()).toMatchObject({ termination: "Escalated", signal: "SIGTERM" })
      expect(r.ms).toBeGreaterThanOrEqual(200)
    }))

  it.live("stop escalates while the scope is still open; the result stays readable after close", () =>
    Effect.gen(function*() {
      const { child } = yield* supervise({ command: "sleep", args: ["30"], grace: 50 }, (c) =>
        Effect.gen(function*() {
          const r = yield* c.stop
          expect(r.termination).toBe("Escalated")
          expect(c.running()).toBe(false)
        }))
      expect((yield* child.result).signal).toBe("SIGTERM")
    }))

  it.live("interrupting the owning fiber runs the escalation", () =>
    Effect.gen(function*() {
      const handle = yield* Deferred.make<Child>()
      const owner = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const c = yield* spawn({ command: "sleep", args: ["30"], grace: 50 })
        yield* Deferred.succeed(handle, c)
        return yield* Effect.never
      })))
      const child = yield* Deferred.await(handle)
      yield* Fiber.interrupt(owner)
      expect(child.running()).toBe(false)
      expect((yield* child.result).termination).toBe("Escalated")
    }).pipe(Effect.provide(quiet)))

  it.live("killTree: false signals only the child", () =>
    Effect.gen(function*() {
      const { child } = yield* supervise({ command: "sleep", args: ["30"], grace: 50, killTree: false })
      expect(child.pgid).toBeUndefined()
      expect((yield* child.result).termination).toBe("Escalated")
    }))

  it.live("50 MB on stderr never blocks the child; lines reach the logger with its pid", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const script = "const b=Buffer.alloc(1<<20,120);b[b.length-1]=10;for(let i=0;i<50;i++)require('fs').writeSync(2,b);console.error('done')"
      const { child } = yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* spawn({ command: node, args: ["-e", script] })
        yield* c.result
        return { child: c }
      }))
      expect((yield* child.result).toReport()).toMatchObject({ termination: "Clean", code: 0 })
      const last = logs.lines.filter((l) => l.annotations["pid"] === child.pid)
      expect(last.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(logs.layer))
  })

  describe("options are checked before anything is spawned", () => {
    const marker = path.join(os.tmpdir(), `liege-never-${process.pid}`)
    const cases: ReadonlyArray<[string, Record<string, unknown>]> = [
      ["command", { command: "" }],
      ["args", { args: "not-an-array" }],
      ["grace", { grace: -1 }],
      ["killWait", { killWait: "soon" }],
      ["timeout", { timeout: Infinity }],
      ["cwd", { cwd: "/does/not/exist" }],
      ["env", { env: { X: 1 } }],
      ["stdout", { stdout: "tee" }]
    ]
    for (const [field, bad] of cases) {
      it.live(`InvalidOptions names ${field}`, () =>
        Effect.gen(function*() {
          const options = { command: "sh", args: ["-c", `touch ${marker}`], ...bad }
          const e = yield* Effect.flip(Effect.scoped(spawn(options as never)))
          expect(e._tag).toBe("InvalidOptions")
          expect((e as any).field.split(".")[0]).toBe(field)
          expect(e.message).toContain(field)
          expect(fs.existsSync(marker)).toBe(false)
        }))
    }
  })

  it.live("a command that cannot start is SpawnFailed", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.scoped(spawn({ command: "liege-no-such-command" })))
      expect(e._tag).toBe("SpawnFailed")
      expect((e as any).code).toBe("ENOENT")
    }))
})
