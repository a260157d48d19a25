/**
 * The status page of a real cluster runner (SPEC §9, §10): two `liege
 * cluster serf` runners on loopback over a real PostgreSQL, the kv example
 * as their serf. Events go to a dozen serfs through one runner; each answer's
 * `liege-runner` header says which runner owns that serf. The other runner's
 * `/ui`, in a real chromium, lists exactly the serfs that live there, by id,
 * running, at the eve they were answered with, and follows a new event.
 */
import * as path from "node:path"
import type { Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { screenshot, useBrowser } from "../support/browser.ts"
import { runnerStatus, settled, startRunner } from "../support/cluster.ts"
import { post } from "../support/http.ts"
import { node, root } from "../support/procs.ts"
import { usePostgres } from "../support/postgres.ts"
import { inTemp } from "../support/serfs.ts"

// evaluated in the page, not in node
declare const document: any

const pg = usePostgres()
const chromium = useBrowser()
const kv = ["--", node, path.join(root, "examples/kv-serf.ts")]


/** The serf rows the page shows: id, state, pid, eve. */
const rows = (page: Page) =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll("#serfs tbody tr")).map((tr: any) => [tr.dataset.serf, tr.cells[1].textContent, tr.cells[2].textContent, tr.cells[3].textContent])
  )

describe("the status page of a cluster runner", () => {
  it("lists the serfs that live on it, by id, running at their eve, and follows a new event", async () => {
    await inTemp("liege-cluster-ui-", async (dir) => {
      const db = await pg.createDb()
      const a = await startRunner("serf", db, ["--data", path.join(dir, "a"), ...kv])
      const b = await startRunner("serf", db, ["--data", path.join(dir, "b"), ...kv])
      const here = `127.0.0.1:${a.runnerPort}`
      await settled([a, b])

      // 1 to 3 events to each of 12 serfs, all through b
      const eve = new Map<string, number>()
      const owner = new Map<string, string>()
      for (let i = 0; i < 12; i++) {
        const id = `kv-${i}`
        for (let j = 0; j <= i % 3; j++) {
          const r = await post(`${b.url}/v1/serfs/${id}/events`, { op: "put", key: `k${j}`, value: i * 10 + j })
          expect(r.status, r.text).toBe(200)
          eve.set(id, r.body.eve)
          owner.set(id, String(r.headers["liege-runner"]))
        }
      }
      // by id, numbers in ids by value (kv-2 before kv-11), as the page sorts them
      const mine = [...owner].filter(([, o]) => o === here).map(([id]) => id).sort(new Intl.Collator("en", { numeric: true }).compare)
      // with 300 shards split between two runners, 12 serfs all on one side is a 1-in-2048 draw
      expect(mine.length, JSON.stringify([...owner])).toBeGreaterThan(0)
      expect(mine.length).toBeLessThan(12)
      expect(new Set(owner.values())).toEqual(new Set([here, `127.0.0.1:${b.runnerPort}`]))

      const page = await chromium.open(`${a.url}/ui`, { viewport: { width: 1280, height: 800 } })
      await page.locator("body[data-conn=live]").waitFor({ state: "attached" })
      await page.waitForFunction((n) => document.querySelectorAll("#serfs tbody tr").length === n, mine.length)
      expect(await page.locator("#kind").textContent()).toBe("serf runner")
      expect(await page.locator("#health-text").textContent()).toBe("Healthy")
      expect(await page.locator("#r-addr").textContent()).toBe(here)
      expect(await page.locator("#r-role").textContent()).toBe("liege cluster serf")
      expect(await page.locator("#r-shards").textContent()).toBe(String((await runnerStatus(a)).shards))
      expect(await page.locator("#r-nserfs").textContent()).toBe(String(mine.length))
      const seen = await rows(page)
      expect(seen.map((r) => [r[0], r[1], r[3]])).toEqual(mine.map((id) => [id, "running", String(eve.get(id))]))
      // each a real process: a pid of its own
      expect(new Set(seen.map((r) => r[2])).size).toBe(mine.length)
      for (const r of seen) expect(r[2]).toMatch(/^\d+$/)

      // one more event to one of a's serfs, sent to a itself this time: its row follows
      const first = mine[0]!
      const next = await post(`${a.url}/v1/serfs/${first}/events`, { op: "incr", key: "n", by: 1 })
      expect(next.status, next.text).toBe(200)
      expect(next.headers["liege-runner"]).toBe(here)
      expect(next.body.eve).toBe(eve.get(first)! + 1)
      await page.waitForFunction(
        ([id, n]) => document.querySelector(`#serfs tr[data-serf='${id}'] td:nth-child(4)`)?.textContent === n,
        [first, String(next.body.eve)] as const
      )
      // events through b for a's serfs were forwarded by b, none by a
      expect(await page.locator("#r-fwd").textContent()).toBe("0")
      expect((await runnerStatus(b)).forwarded).toBe(mine.reduce((n, id) => n + (Number(id.slice(3)) % 3) + 1, 0))
      await screenshot(page, "cluster-runner")

      for (const r of [a, b]) {
        r.proc.kill("SIGTERM")
        expect(await r.exited, r.stderr()).toBe(0)
      }
    })
  }, 120_000)
})
