/**
 * `liege serf` reload (SPEC §8): `POST /v1/reload` and `SIGHUP` upgrade the
 * serf's code without losing an event; a new serf that fails (its boot,
 * another mug) is killed, the old one goes on, and the answer is `500
 * ReloadFailed` saying why.
 *
 * The serf is test/fixtures/reload-serf.ts: its "deployed code" is a file
 * (`RELOAD_SERF_CODE`) the test rewrites before reloading.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { isAlive } from "../../src/supervisor/group.ts"
import { healthy, post, request, type Running, serve } from "../support/http.ts"
import { readLog } from "../support/log.ts"
import { eventually, fixture, node } from "../support/procs.ts"
import { inTemp } from "../support/serfs.ts"

/** `liege serf` over the reload serf, its code in `dir/code.json`, its pier in `dir/pier`. */
const start = async (dir: string, code: object = { salt: 0 }, flags: ReadonlyArray<string> = []) => {
  const file = path.join(dir, "code.json")
  fs.writeFileSync(file, JSON.stringify(code))
  const s = await serve(
    ["serf", "--pier", path.join(dir, "pier"), "--listen", "127.0.0.1:0", ...flags, "--", node, fixture("reload-serf.ts")],
    { RELOAD_SERF_CODE: file }
  )
  await healthy(s.url)
  return s
}

const deploy = (dir: string, code: object) => fs.writeFileSync(path.join(dir, "code.json"), JSON.stringify(code))

const peek = async (s: Running, what: string) => (await request("GET", `${s.url}/v1/peek/${what}`)).body.dat
const status = async (s: Running) => (await request("GET", `${s.url}/v1/status`)).body

const stop = async (s: Running) => {
  s.proc.kill("SIGTERM")
  expect(await s.exited).toBe(0)
}

describe("liege serf: reload", () => {
  it("POST /v1/reload under steady load: no request fails, events consecutive across the switch, a new pid, state kept", async () => {
    await inTemp("liege-reload-", async (dir) => {
      const s = await start(dir, { salt: 0 }, ["--max-in-flight", "16"])
      const before = await peek(s, "pid")
      expect(await peek(s, "generation")).toBe("1")
      const answers: Array<{ readonly status: number; readonly eve: number | undefined; readonly at: number }> = []
      let stopping = false
      /** One caller: posts `{n: 1}` after `{n: 1}`, each on its own connection, until told to stop. */
      const caller = async () => {
        const mine: Array<number> = []
        while (!stopping) {
          const r = await post(`${s.url}/v1/events`, { n: 1 }).catch((e: Error) => ({ status: 0, body: { error: e.message } }))
          answers.push({ status: r.status, eve: r.body?.eve, at: performance.now() })
          if (r.status === 200) mine.push(r.body.eve)
        }
        return mine
      }
      const callers = Array.from({ length: 8 }, caller)
      await eventually(() => answers.length >= 200, 10_000, "200 answers before the reload")
      const t0 = performance.now()
      const reload = await request("POST", `${s.url}/v1/reload`)
      const t1 = performance.now()
      const atReload = answers.length
      await eventually(() => answers.length >= atReload + 200, 10_000, "200 answers after the reload")
      stopping = true
      const mine = await Promise.all(callers)

      expect(reload.status).toBe(200)
      expect(reload.body).toEqual({ reloaded: 1, eve: expect.any(Number), generation: 2 })
      // no request failed; every event once, consecutive across the switch; each caller's in order
      expect(answers.filter((a) => a.status !== 200)).toEqual([])
      const eves = answers.map((a) => a.eve!).sort((a, b) => a - b)
      expect(eves).toEqual(Array.from({ length: eves.length }, (_, i) => i + 1))
      for (const m of mine) expect(m).toEqual([...m].sort((a, b) => a - b))
      expect(eves.some((e) => e > reload.body.eve)).toBe(true)
      // a new serf process, of generation 2, with the state of the old one, which is gone
      const after = await peek(s, "pid")
      expect(after).not.toBe(before)
      expect(isAlive(before)).toBe(false)
      expect(await peek(s, "generation")).toBe("2")
      expect(await peek(s, "total")).toBe(eves.length)
      const doc = await status(s)
      expect(doc).toMatchObject({ pid: after, reload: { generation: 2, total: 1, failed: 0, running: null }, restarts: { total: 0 } })
      expect((await request("GET", `${s.url}/metrics`)).text).toContain('liege_serf_reloads_total{outcome="ok"} 1')
      // the longest wait between two answers while the reload ran
      const during = answers.map((a) => a.at).filter((at) => at >= t0 && at <= t1).sort((a, b) => a - b)
      let gap = 0
      for (let i = 1; i < during.length; i++) gap = Math.max(gap, during[i]! - during[i - 1]!)
      console.log(
        `liege serf reload under load: ${answers.length} requests, ${answers.filter((a) => a.status !== 200).length} failed, ` +
          `reload took ${(t1 - t0).toFixed(0)} ms, longest gap between answers during it ${gap.toFixed(1)} ms`
      )
      await stop(s)
      expect(readLog(path.join(dir, "pier")).map((r) => r.eve)).toEqual(eves)
    })
  })

  it("a new serf with another mug, or one that fails its boot: 500 ReloadFailed saying why; the old serf goes on", async () => {
    await inTemp("liege-reload-", async (dir) => {
      const s = await start(dir)
      for (let i = 1; i <= 3; i++) expect((await post(`${s.url}/v1/events`, { n: 1 })).body.eve).toBe(i)
      const pid = await peek(s, "pid")

      deploy(dir, { salt: 42 })
      const mug = await request("POST", `${s.url}/v1/reload`)
      expect(mug.status).toBe(500)
      expect(mug.body.error).toMatchObject({ tag: "ReloadFailed", reason: expect.stringMatching(/^the new serf's mug at event 3 is \d+, the log's is \d+$/) })
      expect(mug.body.error.message).toBe(`reload failed: ${mug.body.error.reason}`)
      expect(await peek(s, "pid")).toBe(pid)
      expect((await post(`${s.url}/v1/events`, { n: 1 })).body.eve).toBe(4)

      deploy(dir, { boot: "exit" })
      const boot = await request("POST", `${s.url}/v1/reload`)
      expect(boot.status).toBe(500)
      expect(boot.body.error.tag).toBe("ReloadFailed")
      expect(boot.body.error.reason).toMatch(/^the new serf did not boot: serf \d+ exited before it was ripe \(code 1\)$/)
      expect(await peek(s, "pid")).toBe(pid)
      expect(await peek(s, "generation")).toBe("1")
      expect((await post(`${s.url}/v1/events`, { n: 1 })).body.eve).toBe(5)
      expect(await peek(s, "total")).toBe(5)
      expect((await status(s)).reload).toMatchObject({ generation: 1, total: 2, failed: 2, last: { generation: 3, error: boot.body.error.reason } })
      // the killed serfs were logged with their reasons
      expect(s.stderr()).toMatch(/reload: killing the new serf \d+: the new serf's mug at event 3/)
      expect(s.stderr()).toContain("this version of the serf fails at boot")
      await stop(s)
    })
  })

  it("SIGHUP reloads the serf (logged), and a new process serves", async () => {
    await inTemp("liege-reload-", async (dir) => {
      const s = await start(dir)
      expect((await post(`${s.url}/v1/events`, { n: 5 })).status).toBe(200)
      const before = await peek(s, "pid")
      s.proc.kill("SIGHUP")
      await eventually(() => s.stderr().includes("SIGHUP: reloaded"), 10_000, "the SIGHUP reload")
      expect(s.stderr()).toMatch(/SIGHUP: reloaded \{\\?"reloaded\\?":1,\\?"eve\\?":1,\\?"generation\\?":2\}/)
      const after = await peek(s, "pid")
      expect(after).not.toBe(before)
      expect(await peek(s, "generation")).toBe("2")
      expect(await peek(s, "total")).toBe(5)
      expect((await post(`${s.url}/v1/events`, { n: 1 })).body.eve).toBe(2)
      await stop(s)
    })
  })
})
