/**
 * The status page (SPEC §10) on real servers, in Debian's chromium: a real
 * `liege pool` — its workers' rows, a job changing the counters, a killed
 * worker restarting and then ready again — and a real `liege serf` — the
 * replay bar during the replay of a large pier, then running — and the
 * token prompt. Screenshots of both pages go to test-artifacts/.
 */
import * as path from "node:path"
import { Effect } from "effect"
import type { Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { open } from "../../src/pier/pier.ts"
import { healthy, post, serve } from "../support/http.ts"
import { fixture, node } from "../support/procs.ts"
import { inTemp, testSerf } from "../support/serfs.ts"
import { screenshot, useBrowser } from "../support/browser.ts"

// evaluated in the page
declare const document: any

const chromium = useBrowser()

const until = (page: Page, selector: string, expected: RegExp, timeout = 20_000) =>
  page.waitForFunction(
    ([sel, src, flags]) => {
      const e = document.querySelector(sel)
      return e !== null && new RegExp(src!, flags).test(e.textContent)
    },
    [selector, expected.source, expected.flags],
    { timeout }
  )

const pidOf = (page: Page, slot: number) =>
  page.evaluate((n) => document.querySelector(`#slots tr[data-slot='${n}']`)?.cells[3]?.textContent ?? "", slot)

describe("the status page on a real liege pool", () => {
  it("shows each worker's row, counters that follow jobs, and a killed worker restarting then ready", async () => {
    await inTemp("liege-ui-", async (dir) => {
      // each worker takes 1.5 s to get ready: a restart stays on the page long enough to be seen
      const s = await serve(["pool", "--workers", "2", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", "--", node, fixture("faulty-worker.ts")], { FAULTY_READY_DELAY: "1500" })
      await healthy(s.url)
      expect(s.stderr()).toContain(`status page: ${s.url}/ui`)
      const page = await chromium.open(`${s.url}/ui`, { viewport: { width: 1280, height: 900 } })
      await until(page, "#slots tr[data-slot='1'] .pill", /ready/)
      await until(page, "#slots tr[data-slot='2'] .pill", /ready/)
      expect(await page.locator("#slots tbody tr").count()).toBe(2)
      for (let i = 0; i < 6; i++) expect((await post(`${s.url}/v1/jobs`, { op: "echo", value: i })).status).toBe(200)
      await until(page, "#r-count", /\b6\b/)
      const pid = Number(await pidOf(page, 1))
      expect(pid).toBeGreaterThan(0)
      // the first generation, a fixed pool (no size line), never reloaded
      expect(await page.locator("#slots tbody td:nth-child(3)").allTextContents()).toEqual(["g1", "g1"])
      expect(await page.locator("#p-workers").textContent()).toBe("2 workers: 2 ready")
      expect(await page.locator("#p-size").isHidden()).toBe(true)
      expect(await page.locator("#p-reload .k ~ span").allTextContents()).toEqual(["generation g1", "", "no reload yet", ""])
      // kill worker 1: its row shows the restart, then ready again with another pid
      process.kill(pid, "SIGKILL")
      await until(page, "#slots tr[data-slot='1'] .pill", /restarting|booting/)
      await until(page, "#slots tr[data-slot='1'] .pill", /ready/)
      expect(Number(await pidOf(page, 1))).not.toBe(pid)
      await until(page, "#rs-reasons", /died idle/)
      await screenshot(page, "pool")
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  })

  it("asks for the token with --token, and shows the data once it is given", async () => {
    await inTemp("liege-ui-", async (dir) => {
      const s = await serve(["pool", "--workers", "1", "--token", "open-sesame", "--state", path.join(dir, "s.db"), "--listen", "127.0.0.1:0", "--", node, fixture("faulty-worker.ts")])
      await healthy(s.url)
      const page = await chromium.open(`${s.url}/ui`)
      await page.locator("#auth").waitFor()
      await page.locator("#token").fill("wrong")
      await page.locator("#auth button").click()
      await until(page, "#auth-msg", /did not accept/)
      await page.locator("#token").fill("open-sesame")
      await page.locator("#auth button").click()
      await until(page, "#slots tr[data-slot='1'] .pill", /ready/)
      expect(await page.locator("#auth").isHidden()).toBe(true)
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  })
})

describe("the status page on a real liege serf", () => {
  it("shows the replay bar while a large pier replays, then the running serf", async () => {
    await inTemp("liege-ui-", async (dir) => {
      const pier = path.join(dir, "pier")
      const events = 20_000
      // a large pier, written through the library
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const p = yield* open({ dir: pier, ...testSerf(), maxInFlight: 64 })
        yield* Effect.forEach(Array.from({ length: events }, (_, i) => i), (i) => p.poke({ n: i % 7 }), { concurrency: 128, discard: true })
      })))
      // a serf that takes 40 ms a batch of 500: the replay lasts over a second and a half
      const s = await serve(["serf", "--pier", pier, "--batch", "500", "--listen", "127.0.0.1:0", "--", node, fixture("test-serf.ts")], { TEST_SERF_PLAY_MS: "40" })
      const page = await chromium.open(`${s.url}/ui`, { viewport: { width: 1280, height: 900 } })
      await until(page, "#s-state", /replaying/i)
      // the bar moves: some of the 20,000 done, not all
      await until(page, "#s-replay-text", /[\d,]+ of 20,000 events · [2-9]\d %/)
      const width = await page.locator("#s-replay-bar").evaluate((e: any) => e.getBoundingClientRect().width)
      const track = await page.locator("#s-replay-meter").evaluate((e: any) => e.getBoundingClientRect().width)
      expect(width).toBeGreaterThan(0)
      expect(width).toBeLessThan(track)
      expect(await page.locator("#s-detail").textContent()).toMatch(/pid \d+/)
      await screenshot(page, "serf-replaying")
      await until(page, "#s-state", /running/i)
      await healthy(s.url)
      expect((await post(`${s.url}/v1/events`, { n: 1 })).status).toBe(200)
      await until(page, "#s-eve", /20,001/)
      await screenshot(page, "serf")
      s.proc.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    })
  })
})
