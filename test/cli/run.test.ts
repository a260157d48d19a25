import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { liege } from "../support/procs.ts"
import { lines } from "../support/live.ts"


describe("liege run", () => {
  it("passes stdout and stderr through untouched and exits with the child's code", async () => {
    const r = await liege(["run", "--", "sh", "-c", "printf 'a\\001b'; printf 'err' >&2; exit 5"])
    expect(r.status).toBe(5)
    expect(r.stdout).toBe("a\u0001b")
    expect(r.stderr).toBe("err")
  })

  it("pipes liege's stdin to the child", async () => {
    const r = await liege(["run", "--", "cat"], { input: "hello\nworld\n" })
    expect(r.status).toBe(0)
    expect(r.stdout).toBe("hello\nworld\n")
  })

  it("exits 128+n when the child dies of signal n", async () => {
    const r = await liege(["run", "--report", "json", "--", "sh", "-c", "kill -KILL $$"])
    expect(r.status).toBe(128 + 9)
    expect(JSON.parse(lines(r.stderr).at(-1)!)).toMatchObject({ termination: "Clean", code: null, signal: "SIGKILL" })
  })

  it("--report json prints exactly the spec's fields", async () => {
    const r = await liege(["run", "--report", "json", "--", "true"])
    expect(r.status).toBe(0)
    const report = JSON.parse(lines(r.stderr).at(-1)!)
    expect(Object.keys(report).sort()).toEqual(["code", "ms", "pid", "signal", "termination"])
    expect(report).toMatchObject({ termination: "Clean", code: 0, signal: null })
    expect(report.pid).toBeGreaterThan(0)
    expect(report.ms).toBeGreaterThanOrEqual(0)
    expect(r.stdout).toBe("")
  })

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} to liege starts the escalation: stdin closes, then SIGTERM after --grace`, async () => {
      let sent = false
      const r = await liege(["run", "--grace", "300ms", "--report", "json", "--", "sh", "-c", "echo ready; exec sleep 30"], {
        onStdout: (out, pid) => {
          if (!sent && out.includes("ready")) {
            sent = true
            process.kill(pid, signal)
          }
        }
      })
      expect(r.status).toBe(128 + 15)
      const report = JSON.parse(lines(r.stderr).at(-1)!)
      expect(report).toMatchObject({ termination: "Escalated", signal: "SIGTERM" })
      expect(report.ms).toBeGreaterThanOrEqual(300)
    })
  }

  it("a child that ignores SIGTERM is killed: 137 within 2·grace + kill-wait", async () => {
    const t0 = Date.now()
    const r = await liege([
      "run", "--grace", "200ms", "--kill-wait", "200ms", "--timeout", "100ms", "--report", "json", "--",
      "sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"
    ])
    expect(r.status).toBe(137)
    expect(JSON.parse(lines(r.stderr).at(-1)!)).toMatchObject({ termination: "Escalated", signal: "SIGKILL" })
    expect(Date.now() - t0).toBeLessThan(10_000)
  })

  it("a child that exits when its stdin closes leaves Clean on SIGTERM to liege", async () => {
    let sent = false
    const r = await liege(["run", "--report", "json", "--", "sh", "-c", "echo ready; cat >/dev/null; exit 4"], {
      onStdout: (out, pid) => {
        if (!sent && out.includes("ready")) {
          sent = true
          process.kill(pid, "SIGTERM")
        }
      }
    })
    expect(r.status).toBe(4)
    expect(JSON.parse(lines(r.stderr).at(-1)!)).toMatchObject({ termination: "Clean", code: 4 })
  })

  describe("bad invocations exit 2 with one line on stderr and spawn nothing", () => {
    const marker = path.join(os.tmpdir(), `liege-cli-never-${process.pid}`)
    const cmd = ["--", "sh", "-c", `touch ${marker}`]
    const cases: ReadonlyArray<[string, ReadonlyArray<string>]> = [
      ["an unknown flag", ["run", "--bogus", ...cmd]],
      ["a bad duration", ["run", "--grace", "5", ...cmd]],
      ["a negative duration", ["run", "--kill-wait", "-1s", ...cmd]],
      ["a bad --report", ["run", "--report", "yaml", ...cmd]],
      ["a bad --log-format", ["run", "--log-format", "xml", ...cmd]],
      ["a missing command", ["run"]],
      ["a missing command after --", ["run", "--"]],
      ["an unknown subcommand", ["frob", ...cmd]]
    ]
    for (const [what, args] of cases) {
      it(what, async () => {
        const r = await liege(args)
        expect(r.status).toBe(2)
        expect(lines(r.stderr)).toHaveLength(1)
        expect(r.stderr).toMatch(/^liege: /)
        expect(r.stdout).toBe("")
        expect(fs.existsSync(marker)).toBe(false)
      })
    }
  })

  it("a command that does not exist exits 127 with one line", async () => {
    const r = await liege(["run", "--", "liege-no-such-command"])
    expect(r.status).toBe(127)
    expect(lines(r.stderr)).toHaveLength(1)
  })
})
