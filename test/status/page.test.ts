/**
 * The status page (SPEC §10) in a real chromium, against a small HTTP server
 * on 127.0.0.1 that serves `page` and status documents (decoded with the
 * Status schema, so they stay valid): what a person sees — the rows and their
 * states, numbers following the stream, the replay bar, the token prompt, the
 * reconnection — and that numbers of other lengths do not move the layout.
 */
import { Schema } from "effect"
import * as http from "node:http"
import type { Page } from "playwright-core"
import { describe, expect, it, onTestFinished } from "vitest"
import { Status } from "../../src/status/document.ts"
import type { PoolStatus, Rates, RunnerStatus, SerfStatus, Slot } from "../../src/status/document.ts"
import { page as html } from "../../src/status/page/index.ts"
import { requestsOf, screenshot, useBrowser } from "../support/browser.ts"

// evaluated in the page, not in node
declare const document: any
declare const window: any

const decode = Schema.decodeUnknownSync(Status)
const T = Date.UTC(2026, 0, 12, 9, 30, 0)
const S = 1000
const H = 3600 * S

const wave = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => Math.max(0, Math.round(f(i))))

const rates = (perSec: number, p50: number | null, p99: number | null, spark: ReadonlyArray<number>, p50s: ReadonlyArray<number | null>): Rates => ({
  last10s: { windowMs: 10 * S, count: Math.round(perSec * 10), perSec, p50Ms: p50, p99Ms: p99 },
  last60s: { windowMs: 60 * S, count: Math.round(perSec * 55), perSec: perSec * 0.92, p50Ms: p50 === null ? null : p50 * 1.1, p99Ms: p99 === null ? null : p99 * 1.2 },
  perSecond: spark,
  p50PerSecond: p50s
})

const slot = (s: Partial<Slot> & Pick<Slot, "slot" | "state">): Slot => ({
  worker: s.slot,
  pid: 4100 + s.slot,
  nextTryAt: null,
  inFlight: 0,
  served: 0,
  rssBytes: 48_000_000,
  startedAt: T - 2 * H,
  readyAt: s.state === "booting" || s.state === "restarting" ? null : T - 2 * H + 300,
  lastExit: null,
  generation: s.pid === null ? null : 1,
  successor: null,
  ...s
})

const slots = (now: number): Array<Slot> => [
  slot({ slot: 1, worker: 5, pid: 4107, state: "ready", served: 1234, rssBytes: 48_312_000, startedAt: now - 3 * H - 12 * 60 * S, lastExit: { at: now - 3 * H - 12 * 60 * S, end: "Retired", reason: "recycled: maxJobs", code: 0, signal: null } }),
  slot({ slot: 2, worker: 6, pid: 4112, state: "busy", inFlight: 1, served: 987, rssBytes: 52_104_000, startedAt: now - 2 * H - 5 * 60 * S }),
  slot({ slot: 3, worker: 8, pid: 4150, state: "booting", served: 0, rssBytes: 21_800_000, startedAt: now - 2 * S }),
  slot({ slot: 4, worker: null, pid: null, state: "restarting", nextTryAt: now + 1200, rssBytes: null, startedAt: null, lastExit: { at: now - 800, end: "Died", reason: "crashed (exit code 9)", code: 9, signal: null } })
]

const pool = (over: Partial<PoolStatus> = {}): PoolStatus =>
  decode({
    kind: "pool",
    now: T,
    startedAt: T - 5 * H - 7 * 60 * S,
    healthy: true,
    failed: null,
    workers: slots(over.now ?? T),
    queue: { depth: 3, max: 64 },
    requests: rates(
      41.7,
      3.2,
      18.5,
      wave(60, (i) => 38 + 12 * Math.sin(i / 5) + (i % 7)),
      wave(60, (i) => 30 + 6 * Math.cos(i / 6)).map((v, i) => (i === 20 || i === 21 ? null : v / 10))
    ),
    ready: 2,
    inFlight: 1,
    answers: { total: 4_210, byOutcome: { ok: 4_190, Timeout: 20 } },
    restarts: { total: 3, byReason: { "crashed (exit code 9)": 2, "health check failed": 1 }, recent: [] },
    recycles: { total: 5, byReason: { maxJobs: 4, maxRss: 1 } },
    size: { min: 4, max: 4, running: 4, up: 0, down: 0, last: null },
    reload: { generation: 1, running: null, total: 0, failed: 0, last: null },
    errors: [
      { at: T - 60 * S, tag: "RequestTimeout", message: "job 31 took longer than 30 s" },
      { at: T - 800, tag: "WorkerCrashed", message: "worker 7 exited with code 9: <img src=x onerror=\"document.body.dataset.pwned=1\">" }
    ],
    sessions: {
      byState: { queued: 12, running: 2, done: 340, failed: 3 },
      busiest: [
        { session: "alice", queued: 7, running: 1 },
        { session: "<b>bob</b>", queued: 5, running: 1 }
      ]
    },
    ...over
  }) as PoolStatus

const serf = (over: Partial<SerfStatus> = {}): SerfStatus =>
  decode({
    kind: "serf",
    now: T,
    startedAt: T - 14 * S,
    healthy: false,
    state: "replaying",
    pid: 5120,
    replay: { done: 400, total: 1000 },
    nextTryAt: null,
    failed: null,
    isolating: false,
    eve: 12_400,
    mug: 0x9e3779b9,
    window: { inFlight: 0, max: 32 },
    pending: 0,
    events: rates(0, null, null, [], []),
    logged: 12_400,
    poisoned: 0,
    commits: { total: 2_310, meanBatch: null, maxBatch: 64 },
    restarts: {
      total: 1,
      byReason: { died: 1 },
      recent: [{ at: T - 20 * S, kind: "died", reason: "crashed (signal SIGKILL)", counted: true, poison: false, code: null, signal: "SIGKILL" }]
    },
    lastSnapshotEve: 12_000,
    logBytes: 38_400_000,
    errors: [{ at: T - 20 * S, tag: "SerfCrashed", message: "serf exited on SIGKILL" }],
    ...over
  }) as SerfStatus

const running = (over: Partial<SerfStatus> = {}): SerfStatus =>
  serf({
    now: T + 30 * S,
    healthy: true,
    state: "running",
    replay: null,
    eve: 13_877,
    window: { inFlight: 7, max: 32 },
    pending: 11,
    events: rates(
      212.4,
      1.4,
      6.8,
      wave(60, (i) => (i < 14 ? 0 : 180 + 40 * Math.sin(i / 4))),
      wave(60, (i) => (i < 14 ? 0 : 14 + 2 * Math.sin(i / 3))).map((v, i) => (i < 14 ? null : v / 10))
    ),
    commits: { total: 2_481, meanBatch: 8.6, maxBatch: 64 },
    ...over
  })

/** A runner of a cluster: by default a serf runner with no serf running. */
const runner = (over: Partial<RunnerStatus> = {}): RunnerStatus =>
  decode({
    kind: "runner",
    role: "serf",
    now: T + 30 * S,
    startedAt: T - 2 * H - 4 * 60 * S,
    healthy: true,
    runner: "10.0.4.17:34431",
    shards: 150,
    forwarded: 27,
    serfs: [],
    pool: null,
    sessions: null,
    ...over
  }) as RunnerStatus

/** The serfs of a runner, a fixture each: running, replaying, restarting, stopped. */
const serfsOf = (now: number) => ({
  "orders-7": running({ now, pid: 6021, eve: 48_211, lastSnapshotEve: 48_000, restarts: { total: 0, byReason: {}, recent: [] } }),
  "cart-12": serf({ now, pid: 6044, replay: { done: 250, total: 1000 }, eve: 9_250 }),
  "users-3": running({ now, state: "restarting", healthy: false, pid: null, nextTryAt: now + 2400, window: { inFlight: 0, max: 32 }, pending: 4, events: rates(0, null, null, [], []), restarts: { total: 2, byReason: {}, recent: [] } }),
  "audit": running({ now, state: "stopped", healthy: false, pid: null, window: { inFlight: 0, max: 32 }, pending: 0, events: rates(0, null, null, [], []), lastSnapshotEve: null }),
  "<img src=x onerror=\"document.body.dataset.pwned=1\">": running({ now, pid: 6090, eve: 3, window: { inFlight: 1, max: 32 }, pending: 1 })
})
const serfList = (ids: ReadonlyArray<keyof ReturnType<typeof serfsOf>>, now = T + 30 * S) => ids.map((id) => ({ id, status: serfsOf(now)[id] }))

/** A stand-in liege: `/ui`, `/v1/status` and `/v1/status/stream` over real HTTP, the documents under the test's control. */
const statusServer = async (first: Status, token?: string, prefix = "") => {
  let current: Status = first
  let refusing = false
  const streams = new Set<http.ServerResponse>()
  const requests: Array<{ path: string; authorization: string | undefined; status: number }> = []
  const onRequest = new Set<() => void>()
  const event = (doc: Status) => `data: ${JSON.stringify(doc)}\n\n`
  const server = http.createServer((req, res) => {
    const full = new URL(req.url ?? "/", "http://x").pathname
    const path = full.startsWith(prefix) ? full.slice(prefix.length) : full
    const answer = (status: number, type: string, body?: string) => {
      requests.push({ path: full, authorization: req.headers.authorization, status })
      for (const f of onRequest) f()
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" })
      if (body !== undefined) res.end(body)
    }
    if (path === "/ui") return answer(200, "text/html; charset=utf-8", html)
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      return answer(401, "application/json", JSON.stringify({ error: { tag: "Unauthorized", message: "send Authorization: Bearer <token>" } }))
    }
    if (path === "/v1/status") return answer(200, "application/json", JSON.stringify(current))
    if (path === "/v1/status/stream") {
      if (refusing) return answer(503, "application/json", JSON.stringify({ error: { tag: "Unavailable", message: "not now" } }))
      answer(200, "text/event-stream")
      res.write(": hello\n\n")
      res.write(event(current))
      streams.add(res)
      res.on("close", () => streams.delete(res))
      return
    }
    answer(404, "application/json", "{}")
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  )
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    streams: () => streams.size,
    /** Sends `doc` to every open stream. */
    push: (doc: Status) => {
      current = doc
      for (const s of streams) s.write(event(doc))
    },
    /**
     * Sends `a` and the first half of `b` (lines ended by CRLF) in one write;
     * the answer sends the rest: once the page shows `a`, it has read half of `b`.
     */
    tear: (a: Status, b: Status) => {
      current = b
      const text = `data: ${JSON.stringify(b)}\r\n\r\n`
      const cut = Math.floor(text.length / 2)
      for (const s of streams) s.write(event(a) + text.slice(0, cut))
      return () => {
        for (const s of streams) s.write(text.slice(cut))
      }
    },
    /** Cuts every open stream. */
    drop: () => {
      for (const s of streams) s.destroy()
    },
    refuse: (on: boolean) => {
      refusing = on
    },
    /** Resolves once `n` requests in all have matched `path` and `status`. */
    answered: (path: string, status: number, n = 1) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (requests.filter((r) => r.path === path && r.status === status).length >= n) {
            onRequest.delete(check)
            resolve()
          }
        }
        onRequest.add(check)
        check()
      })
  }
}

const chromium = useBrowser()

const openUi = (url: string, options: Parameters<typeof chromium.open>[1] = {}) =>
  chromium.open(`${url}/ui`, { viewport: { width: 1280, height: 900 }, ...options })

const text = (page: Page, selector: string) => page.locator(selector).first().textContent()
/** Waits until `selector`'s text is `expected` (a string: exactly). */
const until = (page: Page, selector: string, expected: string | RegExp) =>
  page.waitForFunction(
    ([sel, src, flags]) => {
      const e = document.querySelector(sel)
      return e !== null && new RegExp(src!, flags).test(e.textContent)
    },
    typeof expected === "string"
      ? [selector, `^${expected.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, ""]
      : [selector, expected.source, expected.flags]
  )
const live = (page: Page) => page.locator("body[data-conn=live]").waitFor({ state: "attached" })

const serfRows = (page: Page) =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll("#serfs tbody tr")).map((tr: any) => ({
      serf: tr.dataset.serf,
      state: tr.dataset.state,
      cells: Array.from(tr.cells).map((td: any) => td.textContent),
      pill: tr.cells[1].querySelector(".pill").className,
      colour: window.getComputedStyle(tr.cells[1].querySelector(".dot")).backgroundColor
    }))
  )

const slotCells = (page: Page) =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll("#slots tbody tr")).map((tr: any) => ({
      slot: tr.dataset.slot,
      cells: Array.from(tr.cells).map((td: any) => td.textContent),
      pill: tr.cells[4].querySelector(".pill").className,
      colour: window.getComputedStyle(tr.cells[4].querySelector(".dot")).backgroundColor
    }))
  )

/** Where things are: every header block, card, column head and section, rounded to a tenth of a pixel. */
const boxes = (page: Page, main: string, more: ReadonlyArray<string> = []) =>
  page.evaluate(([main, more]) => {
    const sel = [".top > *", `#${main} .card`, `#${main} th`, `#${main} section`, `#${main} .card .big`, `#${main} .meter`, `#${main} .sparkbox`, ...more]
    const out: Record<string, string> = {}
    for (const s of sel) {
      document.querySelectorAll(s).forEach((e: any, i: number) => {
        const r = e.getBoundingClientRect()
        out[`${s}[${i}]`] = [r.x, r.y, r.width, r.height].map((v: number) => v.toFixed(1)).join(" ")
      })
    }
    return out
  }, [main, more] as const)

/** Header blocks that run into each other, or whose contents stick out of them. */
const overlaps = (page: Page) =>
  page.evaluate(() => {
    const out: Array<string> = []
    const top: Array<any> = Array.from(document.querySelectorAll(".top > *")).filter((e: any) => e.getBoundingClientRect().width > 0)
    top.forEach((block, i) => {
      const r = block.getBoundingClientRect()
      if (i > 0 && top[i - 1].getBoundingClientRect().right > r.left) out.push(`${top[i - 1].className} runs into ${block.className}`)
      for (const d of Array.from(block.querySelectorAll("*")) as Array<any>) {
        const q = d.getBoundingClientRect()
        if (q.width > 0 && (q.left < r.left - 0.5 || q.right > r.right + 0.5)) out.push(`${d.id || d.className} sticks out of ${block.className}`)
      }
    })
    return out
  })

describe("the status page", () => {
  // its script is the client's TypeScript as the server runs it, here as vitest loads the sources;
  // bundled and minified (the published command) the page weighs under 40 KB: see page-forms.test.ts
  it("is one self-contained document under 52 KB", () => {
    expect(Buffer.byteLength(html)).toBeLessThan(52 * 1024)
    expect(html).toMatch(/^<!doctype html>/)
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|https?:\/\/(?!www\.w3\.org)/)
  })

  it("shows a pool: a row per worker with its state in words and colour, rates, queue, restarts, sessions and errors", async () => {
    const srv = await statusServer(pool())
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#kind", "pool")
    await until(page, "#health-text", "Healthy")
    await until(page, "#uptime", "5 h 07 m")
    expect(await text(page, "#live-text")).toBe("live · updated 09:30:00")
    expect(await page.title()).toBe("liege pool · healthy")

    const rows = await slotCells(page)
    expect(rows.map((r) => [r.slot, r.cells[4]])).toEqual([
      ["1", "ready"],
      ["2", "busy"],
      ["3", "booting"],
      ["4", "restartingnext try in 1.2 s"]
    ])
    expect(rows.map((r) => r.pill)).toEqual(["pill s-ready", "pill s-busy", "pill s-booting", "pill s-restarting"])
    expect(new Set(rows.map((r) => r.colour)).size).toBe(4)
    expect(rows[0]!.cells).toEqual(["1", "#5", "g1", "4107", "ready", "0", "1,234", "48.3 MB", "3 h 12 m", "recycled: maxJobs · 3 h 12 m ago"])
    expect(rows[1]!.cells.slice(5, 9)).toEqual(["1", "987", "52.1 MB", "2 h 05 m"])
    expect(rows[3]!.cells).toEqual(["4", "—", "—", "—", "restartingnext try in 1.2 s", "0", "0", "—", "—", "crashed (exit code 9) · 0 s ago"])

    expect(await text(page, "#q-depth")).toBe("3")
    expect(await text(page, "#q-max")).toBe("64")
    expect(await text(page, "#p-inflight")).toBe("1")
    expect(await text(page, "#p-workers")).toBe("4 workers: 1 ready, 1 busy, 1 booting, 1 restarting")
    // a fixed pool: no size line; its generation, never reloaded
    expect(await page.locator("#p-size").isHidden()).toBe(true)
    expect(await page.locator("#p-reload .k ~ span").allTextContents()).toEqual(["generation g1", "", "no reload yet", ""])
    expect(await text(page, "#r-10")).toBe("41.7")
    expect(await text(page, "#r-60")).toBe("38.4")
    expect(await text(page, "#l-50-10")).toBe("3.2 ms")
    expect(await text(page, "#l-99-60")).toBe("22.2 ms")
    expect(await page.locator("#r-spark path").getAttribute("d")).toMatch(/^M0\.12 33\.5V/)
    expect(await page.locator("#l-spark path").getAttribute("d")).toMatch(/^M0\.50 /)
    expect(await text(page, "#rs-total")).toBe("3")
    expect(await text(page, "#rc-total")).toBe("5")
    expect(await page.locator("#rs-reasons td").allTextContents()).toEqual(["crashed (exit code 9)", "2", "health check failed", "1"])
    expect(await page.locator("#rc-reasons td").allTextContents()).toEqual(["maxJobs", "4", "maxRss", "1"])
    expect(await page.locator("#sessions .counts").textContent()).toBe("12queued2running340done3failed")
    expect(await page.locator("#busiest tbody td").allTextContents()).toEqual(["alice", "7", "1", "<b>bob</b>", "5", "1"])

    // newest first; worker text is text, never markup
    expect(await page.locator("#p-errors td").allTextContents()).toEqual([
      "09:29:59",
      "WorkerCrashed",
      "worker 7 exited with code 9: <img src=x onerror=\"document.body.dataset.pwned=1\">",
      "09:29:00",
      "RequestTimeout",
      "job 31 took longer than 30 s"
    ])
    expect(await page.evaluate(() => [document.querySelectorAll("img, b").length, document.body.dataset.pwned ?? null])).toEqual([0, null])

    // one polite live region: the health in the header
    expect(await page.evaluate(() => Array.from(document.querySelectorAll("[aria-live], [role=alert]")).map((e: any) => [e.id, e.getAttribute("aria-live")]))).toEqual([
      ["health", "polite"]
    ])

    // only the page's own server was asked for anything
    const asked = requestsOf(page)
    expect(asked).toContain(`${srv.url}/ui`)
    expect(asked.every((u) => u.startsWith(srv.url))).toBe(true)
    expect(srv.requests.map((r) => r.path)).toEqual(["/ui", "/v1/status", "/v1/status/stream"])
    expect(await overlaps(page)).toEqual([])
    await screenshot(page, "status-pool")
  })

  it("shows an elastic pool's size and decisions, a slot's successor, a reload under way and one that failed", async () => {
    const reason = "4 requests wait and 2 of 1..4 workers run"
    const elastic = (now: number, over: Partial<PoolStatus>) =>
      pool({
        now,
        workers: [
          slot({ slot: 1, worker: 5, pid: 4107, generation: 2, state: "ready", served: 1234, successor: { pid: 4188, generation: 3, why: "reload" } }),
          slot({ slot: 2, worker: 6, pid: 4112, generation: 2, state: "busy", inFlight: 1, served: 987 }),
          slot({ slot: 3, worker: 9, pid: 4140, generation: 2, state: "ready", successor: { pid: null, generation: 3, why: "maxMemoryMb" } })
        ],
        size: { min: 1, max: 4, running: 3, up: 2, down: 1, last: { at: now - 12 * S, change: "up", workers: 3, reason } },
        ...over
      })
    const reloading = elastic(T, { reload: { generation: 3, running: { generation: 3, since: T - 4 * S, replaced: 2 }, total: 1, failed: 0, last: { at: T - 2 * H, generation: 2, replaced: 3, error: null } } })
    const srv = await statusServer(reloading)
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#p-workers", "3 workers of 1..4: 2 ready, 1 busy")

    // per slot: its generation, and the worker booting to replace it
    const rows = await slotCells(page)
    expect(rows.map((r) => r.cells.slice(0, 5))).toEqual([
      ["1", "#5", "g2", "4107", "ready→ pid 4188 · g3 · reload"],
      ["2", "#6", "g2", "4112", "busy"],
      ["3", "#9", "g2", "4140", "ready→ g3 · maxMemoryMb"]
    ])
    expect(await page.locator("#slots tr[data-slot='1'] td:nth-child(5)").getAttribute("title")).toBe("replaced by pid 4188 of generation 3 once it is ready (reload)")
    expect(await page.locator("#slots tr[data-slot='3'] td:nth-child(5)").getAttribute("title")).toBe("replaced by a worker of generation 3 once it is ready (maxMemoryMb)")

    // the size: bounds, how often it grew and shrank, the last decision, why and how long ago
    expect(await page.locator("#p-size").isVisible()).toBe(true)
    expect(await text(page, "#sz-moves")).toBe("grew 2 · shrank 1")
    expect(await text(page, "#sz-last")).toBe(`last grew to 3 · 12 s ago · ${reason}`)
    expect(await page.locator("#p-size").getAttribute("title")).toBe(`grew 2 · shrank 1 · last grew to 3 · 12 s ago · ${reason}`)

    // a reload under way: its generation, the slots replaced so far, for how long; the last one and the totals
    expect(await text(page, "#rl-now")).toBe("reloading → g3 (2 replaced) · for 4 s")
    expect(await page.locator("#rl-now").getAttribute("class")).toBe("on")
    expect(await text(page, "#rl-last")).toBe("last → g2 ok (3 replaced) · 2 h 00 m ago")
    expect(await text(page, "#rl-err")).toBe("")
    expect(await text(page, "#rl-total")).toBe("1 reload")
    const colour = (sel: string) => page.evaluate((sel) => window.getComputedStyle(document.querySelector(sel)).color, sel)
    expect(await colour("#rl-now")).not.toBe(await colour("#rl-last"))
    expect(await overlaps(page)).toEqual([])
    await screenshot(page, "status-pool-elastic-reloading")

    // the reload failed: its error, in the colour of trouble; the successors are gone; the pool shrank
    const error = "worker 3 did not become ready within 30 s (bootTimeout); 2 workers were replaced, the others go on serving"
    const failed = elastic(T + 5 * S, {
      workers: [
        slot({ slot: 1, worker: 10, pid: 4188, generation: 3, state: "ready" }),
        slot({ slot: 2, worker: 6, pid: 4112, generation: 2, state: "busy", inFlight: 1 })
      ],
      size: { min: 1, max: 4, running: 2, up: 2, down: 2, last: { at: T + 4 * S, change: "down", workers: 2, reason: "idle for 60000 ms (idleTtl) and 3 of 1..4 workers run" } },
      reload: { generation: 3, running: null, total: 2, failed: 1, last: { at: T + 3 * S, generation: 3, replaced: 2, error } }
    })
    await srv.answered("/v1/status/stream", 200)
    srv.push(failed)
    await until(page, "#rl-now", "generation g3")
    expect(await page.locator("#rl-now").getAttribute("class")).toBe("")
    expect(await text(page, "#rl-last")).toBe("last → g3 failed (2 replaced) · 2 s ago")
    expect(await text(page, "#rl-err")).toBe(error)
    expect(await colour("#rl-err")).toBe(await colour("#p-errors td.tag"))
    expect(await text(page, "#rl-total")).toBe("2 reloads, 1 failed")
    expect(await page.locator("#p-reload").getAttribute("title")).toBe(`generation g3 · 2 reloads, 1 failed · last → g3 failed (2 replaced) · 2 s ago · ${error}`)
    expect(await text(page, "#p-workers")).toBe("2 workers of 1..4: 1 ready, 1 busy")
    expect(await text(page, "#sz-moves")).toBe("grew 2 · shrank 2")
    expect(await text(page, "#sz-last")).toBe("last shrank to 2 · 1 s ago · idle for 60000 ms (idleTtl) and 3 of 1..4 workers run")
    expect((await slotCells(page)).map((r) => r.cells.slice(0, 5))).toEqual([
      ["1", "#10", "g3", "4188", "ready"],
      ["2", "#6", "g2", "4112", "busy"]
    ])
    expect(await overlaps(page)).toEqual([])
    await screenshot(page, "status-pool-elastic-reload-failed")
  })

  it("follows the stream: counters change, a restarting slot becomes ready", async () => {
    const srv = await statusServer(pool())
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#slots tr[data-slot='4'] .pill", "restarting")
    await srv.answered("/v1/status/stream", 200)
    // the live region only speaks when the health changes, not on every document
    await page.evaluate(() => {
      window.healthChanges = 0
      new window.MutationObserver((m: Array<unknown>) => (window.healthChanges += m.length)).observe(document.querySelector("#health"), { subtree: true, childList: true, characterData: true, attributes: true })
    })

    const next = pool({
      now: T + 2 * S,
      queue: { depth: 0, max: 64 },
      workers: slots(T + 2 * S).map((w): Slot =>
        w.slot === 2
          ? { ...w, served: 1002, inFlight: 0, state: "ready" }
          : w.slot === 4
            ? { ...w, worker: 9, pid: 4163, generation: 1, state: "ready", nextTryAt: null, startedAt: T + S, rssBytes: 20_500_000, lastExit: { ...w.lastExit!, at: T - 800 } }
            : w
      )
    })
    srv.push(next)
    await until(page, "#slots tr[data-slot='4'] .pill", "ready")
    const rows = await slotCells(page)
    expect(rows[3]!.cells).toEqual(["4", "#9", "g1", "4163", "ready", "0", "0", "20.5 MB", "1 s", "crashed (exit code 9) · 2 s ago"])
    expect(rows[3]!.pill).toBe("pill s-ready")
    expect(rows[1]!.cells[6]).toBe("1,002")
    expect(await text(page, "#q-depth")).toBe("0")
    expect(await text(page, "#p-workers")).toBe("4 workers: 3 ready, 1 booting")
    expect(await text(page, "#live-text")).toBe("live · updated 09:30:02")
    expect(await page.evaluate(() => window.healthChanges)).toBe(0)

    srv.push(pool({ now: T + 3 * S, healthy: false, failed: { reason: "restart intensity: 5 restarts in 10 s", since: T + 3 * S, retryAt: T + 33 * S } }))
    await until(page, "#health-text", "Failed")
    expect(await page.evaluate(() => window.healthChanges)).toBeGreaterThan(0)
  })

  it("reads an event torn across two reads of the stream", async () => {
    const srv = await statusServer(pool())
    const page = await openUi(srv.url)
    await live(page)
    await srv.answered("/v1/status/stream", 200)
    const served = (n: number) => pool({ workers: slots(T).map((w) => (w.slot === 1 ? { ...w, served: n } : w)) })
    const rest = srv.tear(served(2001), served(2002))
    await until(page, "#slots tr[data-slot='1'] td:nth-child(7)", "2,001")
    rest()
    await until(page, "#slots tr[data-slot='1'] td:nth-child(7)", "2,002")
    expect(await page.locator("body").getAttribute("data-conn")).toBe("live")
    // read from the same stream, not picked up again after a reconnection
    expect(srv.requests.filter((r) => r.path === "/v1/status/stream").length).toBe(1)
  })

  it("takes a stream that falls silent for a dead one and connects again", async () => {
    // the server sends a document about twice a second: 4 s of silence is a connection that is gone without a word
    const srv = await statusServer(pool())
    const page = await openUi(srv.url)
    await live(page)
    await srv.answered("/v1/status/stream", 200)
    await page.evaluate(() => {
      window.connHistory = []
      new window.MutationObserver(() => window.connHistory.push(document.body.dataset.conn)).observe(document.body, { attributes: true, attributeFilter: ["data-conn"] })
    })
    await srv.answered("/v1/status/stream", 200, 2)
    await live(page)
    expect(await page.evaluate(() => window.connHistory)).toEqual(["reconnecting", "live"])
    expect(await page.locator("#slots tbody tr").count()).toBe(4)
  })

  it("says why a failed pool failed and when it tries again", async () => {
    const now = T + 4 * S
    const failed = pool({
      now,
      healthy: false,
      failed: { reason: "restart intensity exceeded: 5 restarts in 10 s", since: T, retryAt: T + 30 * S },
      workers: slots(now).map((w) => ({ ...w, worker: null, pid: null, state: "restarting" as const, nextTryAt: T + 30 * S, inFlight: 0, rssBytes: null, startedAt: null, lastExit: { at: T, end: "Failed" as const, reason: "crashed (exit code 1)", code: 1, signal: null } })),
      queue: { depth: 64, max: 64 },
      sessions: null,
      errors: []
    })
    const srv = await statusServer(failed)
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#health-text", "Failed")
    expect(await page.locator("#health-pill").getAttribute("class")).toBe("pill h-bad")
    expect(await text(page, "#health-why")).toBe("restart intensity exceeded: 5 restarts in 10 s · retrying at 09:30:30")
    expect(await page.title()).toBe("liege pool · failed")
    expect((await slotCells(page)).map((r) => r.cells[4])).toEqual(Array(4).fill("restartingnext try in 26 s"))
    expect(await page.locator("#q-meter").getAttribute("class")).toBe("meter hot")
    expect(await page.locator("#sessions").isHidden()).toBe(true)
    expect(await text(page, "#sessions-none")).toBe("No session jobs on this server.")
    expect(await page.locator("#p-errors").isHidden()).toBe(true)
    expect(await page.locator("#p-errors-empty").isVisible()).toBe(true)
    expect(await overlaps(page)).toEqual([])
    await screenshot(page, "status-pool-failed")
  })

  it("asks for the token on 401, again after a wrong one, and shows the data after the right one", async () => {
    const srv = await statusServer(pool(), "s3cret")
    const page = await openUi(srv.url)
    await page.locator("#auth").waitFor()
    expect(await page.locator("body").getAttribute("data-conn")).toBe("auth")
    expect(await page.locator("#pool").isHidden()).toBe(true)
    expect(await text(page, "#auth-msg")).toBe("")
    expect(await text(page, "#health-text")).toBe("Locked")
    expect(await page.evaluate(() => document.activeElement.id)).toBe("token")

    await page.locator("#token").fill("tökén")
    await page.locator("#auth button").click()
    await until(page, "#auth-msg", "A token is sent in a header: printable ASCII only.")
    expect(srv.requests.length).toBe(2)

    await page.locator("#token").fill("wrong")
    await page.locator("#auth button").click()
    await until(page, "#auth-msg", "The server did not accept that token.")
    await page.locator("#auth").waitFor()
    expect(await page.locator("#pool").isHidden()).toBe(true)
    expect(await page.evaluate(() => window.sessionStorage.getItem("liege.token"))).toBe(null)

    await page.locator("#token").fill("s3cret")
    await page.locator("#token").press("Enter")
    await live(page)
    await page.locator("#slots tr[data-slot='1']").waitFor()
    expect(await page.locator("#auth").isHidden()).toBe(true)
    expect(await page.evaluate(() => window.sessionStorage.getItem("liege.token"))).toBe("s3cret")
    expect(srv.requests.map((r) => [r.path, r.authorization ?? null, r.status])).toEqual([
      ["/ui", null, 200],
      ["/v1/status", null, 401],
      ["/v1/status", "Bearer wrong", 401],
      ["/v1/status", "Bearer s3cret", 200],
      ["/v1/status/stream", "Bearer s3cret", 200]
    ])

    // kept for the tab: a reload goes straight to the data
    await page.reload()
    await live(page)
    expect(await page.locator("#auth").isHidden()).toBe(true)
    expect(srv.requests.slice(5).map((r) => [r.path, r.authorization ?? null, r.status])).toEqual([
      ["/ui", null, 200],
      ["/v1/status", "Bearer s3cret", 200],
      ["/v1/status/stream", "Bearer s3cret", 200]
    ])
  })

  it("finds its routes next to it when served under a path prefix", async () => {
    const srv = await statusServer(serf(), undefined, "/liege")
    const page = await openUi(`${srv.url}/liege`)
    await live(page)
    await until(page, "#s-state", "replaying")
    expect(srv.requests.map((r) => r.path)).toEqual(["/liege/ui", "/liege/v1/status", "/liege/v1/status/stream"])
  })

  it("keeps the last data and says reconnecting… when the stream drops, then follows it again", async () => {
    const srv = await statusServer(pool())
    const page = await openUi(srv.url)
    await live(page)
    await srv.answered("/v1/status/stream", 200)
    expect(await text(page, "#slots tr[data-slot='1'] td:nth-child(7)")).toBe("1,234")

    srv.refuse(true)
    srv.drop()
    await page.locator("body[data-conn=reconnecting]").waitFor({ state: "attached" })
    expect(await text(page, "#live-text")).toBe("reconnecting… · last update 09:30:00")
    expect(await page.locator("#slots tbody tr").count()).toBe(4)
    expect(await text(page, "#slots tr[data-slot='1'] td:nth-child(7)")).toBe("1,234")
    expect(await page.locator("#pool").getAttribute("class")).toBe("stale")
    expect(await overlaps(page)).toEqual([])
    await screenshot(page, "status-pool-reconnecting")
    await srv.answered("/v1/status/stream", 503) // and it keeps trying
    expect(await text(page, "#live-text")).toBe("reconnecting… · last update 09:30:00")

    const later = pool({ now: T + 9 * S, workers: slots(T + 9 * S).map((w) => (w.slot === 1 ? { ...w, served: 1299 } : w)) })
    srv.push(later) // no stream is open: this becomes what the next one starts with
    srv.refuse(false)
    await srv.answered("/v1/status/stream", 200, 2)
    await until(page, "#slots tr[data-slot='1'] td:nth-child(7)", "1,299")
    await live(page)
    expect(await text(page, "#live-text")).toBe("live · updated 09:30:09")
    expect(await page.locator("#pool").getAttribute("class")).toBe("")
  })

  it("shows a serf replaying with its progress bar, then running", async () => {
    const srv = await statusServer(serf())
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#kind", "serf")
    await until(page, "#s-state", "replaying")
    expect(await page.locator("#s-pill").getAttribute("class")).toBe("pill s-replaying")
    expect(await text(page, "#health-text")).toBe("Replaying")
    expect(await text(page, "#s-replay-text")).toBe("Replaying: 400 of 1,000 events · 40 %")
    const fill = () =>
      page.evaluate(() => {
        const bar = document.querySelector("#s-replay-bar").getBoundingClientRect()
        const track = document.querySelector("#s-replay-meter").getBoundingClientRect()
        return bar.width / track.width
      })
    const fillIs = (f: number) =>
      page.waitForFunction((f) => {
        const bar = document.querySelector("#s-replay-bar").getBoundingClientRect()
        const track = document.querySelector("#s-replay-meter").getBoundingClientRect()
        return Math.abs(bar.width / track.width - f) < 0.002
      }, f)
    await fillIs(0.4)
    expect(await page.locator("#s-replay-meter").getAttribute("aria-valuenow")).toBe("400")
    expect(await text(page, "#s-eve")).toBe("12,400")
    expect(await text(page, "#s-mug")).toBe("0x9e3779b9")
    expect(await text(page, "#s-log")).toBe("38.4 MB")
    expect(await text(page, "#s-snap")).toBe("12,000")
    expect(await page.locator("#s-exits td").allTextContents()).toEqual(["09:29:40", "crashed (signal SIGKILL)", "signal SIGKILL"])
    expect(await text(page, "#s-restarts")).toBe("1 since start")
    await screenshot(page, "status-serf-replaying")

    await srv.answered("/v1/status/stream", 200)
    srv.push(serf({ now: T + S, replay: { done: 750, total: 1000 }, eve: 12_750 }))
    await until(page, "#s-replay-text", "Replaying: 750 of 1,000 events · 75 % · about 1 s left")
    await fillIs(0.75)
    expect(await fill()).toBeCloseTo(0.75, 2)
    srv.push(serf({ now: T + 4 * S, replay: { done: 800, total: 1000 }, eve: 12_800 }))
    await until(page, "#s-replay-text", "Replaying: 800 of 1,000 events · 80 % · about 2 s left")

    srv.push(running())
    await until(page, "#s-state", "running")
    expect(await page.locator("#s-replay-meter").isHidden()).toBe(true)
    expect(await page.locator("#s-pill").getAttribute("class")).toBe("pill s-running")
    expect(await text(page, "#health-text")).toBe("Healthy")
    expect(await text(page, "#s-replay-text")).toBe("No replay in progress.")
    expect(await text(page, "#s-eve")).toBe("13,877")
    expect(await text(page, "#w-in")).toBe("7")
    expect(await text(page, "#w-max")).toBe("32")
    expect(await text(page, "#s-pending")).toBe("11")
    expect(await text(page, "#e-10")).toBe("212")
    expect(await text(page, "#cm-mean")).toBe("8.6")
    expect(await text(page, "#cm-max")).toBe("64")
    expect(await page.locator("#e-spark path").getAttribute("d")).toMatch(/^M14\.12 33\.5V/)
    await screenshot(page, "status-serf-running")
  })

  it("does not move anything when the numbers change length (pool)", async () => {
    const now = T + 12 * 24 * H
    const small = pool({
      now: T,
      startedAt: T - 5 * S,
      queue: { depth: 0, max: 8 },
      workers: slots(T).map((w) => ({ ...w, pid: w.pid === null ? null : 7, served: 1, inFlight: 0, rssBytes: w.rssBytes === null ? null : 9_000_000, startedAt: w.startedAt === null ? null : T - 4 * S })),
      requests: rates(0.5, 0.42, 0.9, wave(60, () => 1), wave(60, () => 1).map((v) => v * 0.4)),
      restarts: { total: 0, byReason: { a: 1 }, recent: [] },
      recycles: { total: 0, byReason: { b: 1 } },
      size: { min: 1, max: 4, running: 4, up: 0, down: 0, last: null },
      reload: { generation: 1, running: null, total: 0, failed: 0, last: null },
      sessions: { byState: { queued: 0, running: 0, done: 0, failed: 0 }, busiest: [{ session: "s", queued: 0, running: 0 }] }
    })
    const big = pool({
      now,
      startedAt: T - 400 * 24 * H,
      queue: { depth: 12_345, max: 100_000 },
      workers: slots(now).map((w) => ({
        ...w,
        pid: w.pid === null ? null : 4_194_303,
        served: 12_345_678,
        inFlight: 128,
        rssBytes: w.rssBytes === null ? null : 1_234_567_890,
        startedAt: w.startedAt === null ? null : T - 30 * 24 * H,
        generation: w.pid === null ? null : 1_234,
        successor: w.pid === null ? null : { pid: 4_194_302, generation: 1_235, why: "maxMemoryMb" }
      })),
      requests: rates(12_345.6, 12_345, 98_765, wave(60, (i) => 10_000 + i * 100), wave(60, (i) => 900 + i)),
      restarts: { total: 123_456, byReason: { a: 123_456 }, recent: [] },
      recycles: { total: 98_765, byReason: { b: 98_765 } },
      size: { min: 1, max: 4, running: 4, up: 123_456, down: 123_452, last: { at: now - 29 * 24 * H, change: "down", workers: 4, reason: "idle for 60000 ms (idleTtl) and 5 of 1..4 workers run ".repeat(8) } },
      reload: {
        generation: 1_235,
        running: { generation: 1_235, since: now - 3 * H, replaced: 3 },
        total: 1_234,
        failed: 123,
        last: { at: now - 4 * H, generation: 1_234, replaced: 4, error: "worker 3 did not become ready within 30 s (bootTimeout) ".repeat(8) }
      },
      sessions: { byState: { queued: 123_456, running: 64, done: 9_876_543, failed: 12_345 }, busiest: [{ session: "s", queued: 123_456, running: 1 }] }
    })
    const srv = await statusServer(small)
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#q-max", "8")
    const more = ["#pool .facts > div", "#slots td"]
    const before = await boxes(page, "pool", more)
    await srv.answered("/v1/status/stream", 200)
    srv.push(big)
    await until(page, "#q-max", "100,000")
    expect(await text(page, "#slots tr[data-slot='1'] td:nth-child(7)")).toBe("12,345,678")
    expect(await text(page, "#uptime")).toBe("412 d 00 h")
    expect(await text(page, "#rl-total")).toBe("1,234 reloads, 123 failed")
    // the generation is whole in its column
    expect(await page.evaluate(() => Array.from(document.querySelectorAll("#slots td:nth-child(3)")).filter((e: any) => e.scrollWidth > e.clientWidth).map((e: any) => e.textContent))).toEqual([])
    const after = await boxes(page, "pool", more)
    expect(Object.keys(before).length).toBeGreaterThan(30)
    expect(after).toEqual(before)
  })

  it("does not move anything when the numbers change length (serf)", async () => {
    const small = running({ eve: 7, pending: 0, window: { inFlight: 0, max: 4 }, logBytes: 900, lastSnapshotEve: null, commits: { total: 1, meanBatch: 1, maxBatch: 1 }, events: rates(0.5, 0.3, 0.4, [1], [0.3]) })
    const big = running({
      now: T + 40 * S,
      eve: 123_456_789,
      pending: 12_345,
      window: { inFlight: 1024, max: 1024 },
      logBytes: 12_345_678_901,
      lastSnapshotEve: 123_456_000,
      commits: { total: 98_765_432, meanBatch: 1023.5, maxBatch: 1024 },
      events: rates(123_456, 1234, 98_765, wave(60, () => 99_999), wave(60, () => 9_999))
    })
    const srv = await statusServer(small)
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#s-eve", "7")
    const before = await boxes(page, "serf")
    await srv.answered("/v1/status/stream", 200)
    srv.push(big)
    await until(page, "#s-eve", "123,456,789")
    const after = await boxes(page, "serf")
    expect(Object.keys(before).length).toBeGreaterThan(10)
    expect(after).toEqual(before)
  })

  it("follows the system's dark scheme", async () => {
    const srv = await statusServer(pool())
    const light = await openUi(srv.url, { colorScheme: "light" })
    const dark = await openUi(srv.url, { colorScheme: "dark" })
    await live(light)
    await live(dark)
    const bg = (p: Page) => p.evaluate(() => window.getComputedStyle(document.documentElement).backgroundColor)
    expect(await bg(light)).toBe("rgb(245, 246, 248)")
    expect(await bg(dark)).toBe("rgb(18, 20, 26)")
    await screenshot(dark, "status-pool-dark")
  })

  it("fits a narrow window: cards in two columns, the workers table scrolls", async () => {
    const srv = await statusServer(pool())
    const page = await openUi(srv.url, { viewport: { width: 760, height: 1000 } })
    await live(page)
    const layout = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      cards: Array.from(document.querySelectorAll("#pool .card")).map((c: any) => Math.round(c.getBoundingClientRect().top)),
      table: (() => {
        const box = document.querySelector("#slots").parentElement
        return box.scrollWidth > box.clientWidth
      })()
    }))
    expect(layout.page).toBe(760)
    expect(new Set(layout.cards).size).toBe(2)
    expect(layout.table).toBe(true)
    expect(await overlaps(page)).toEqual([])
    await screenshot(page, "status-pool-narrow")
  })
})

describe("the status page of a cluster runner", () => {
  const IMG = "<img src=x onerror=\"document.body.dataset.pwned=1\">"

  it("shows a serf runner: named in the header (address, role, shards, forwarded), a row per serf by id with its state in words and colour", async () => {
    const srv = await statusServer(runner({ serfs: serfList(["users-3", "orders-7", "cart-12", "audit", IMG]) }))
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#kind", "serf runner")
    await until(page, "#health-text", "Healthy")
    expect(await page.title()).toBe("liege serf runner 10.0.4.17:34431 · healthy")
    expect(await text(page, "#uptime")).toBe("2 h 04 m")
    expect(await text(page, "#r-addr")).toBe("10.0.4.17:34431")
    expect(await text(page, "#r-role")).toBe("liege cluster serf")
    expect(await text(page, "#r-shards")).toBe("150")
    expect(await text(page, "#r-fwd")).toBe("27")
    expect(await text(page, "#r-nserfs")).toBe("5")
    expect(await page.locator("#pool").isHidden()).toBe(true)
    expect(await page.locator("#serf").isHidden()).toBe(true)
    expect(await page.locator("#r-owned").isHidden()).toBe(true)
    expect(await page.locator("#serfs-empty").isHidden()).toBe(true)

    const rows = await serfRows(page)
    expect(rows.map((r) => r.cells)).toEqual([
      [IMG, "running", "6090", "3", "1 / 32", "1", "212", "1.4 ms", "1", "12,000"],
      ["audit", "stopped", "—", "13,877", "0 / 32", "0", "0.00", "—", "1", "—"],
      ["cart-12", "replaying25 %", "6044", "9,250", "0 / 32", "0", "0.00", "—", "1", "12,000"],
      ["orders-7", "running", "6021", "48,211", "7 / 32", "11", "212", "1.4 ms", "0", "48,000"],
      ["users-3", "restartingnext try in 2.4 s", "—", "13,877", "0 / 32", "4", "0.00", "—", "2", "12,000"]
    ])
    expect(rows.map((r) => [r.serf, r.state])).toEqual([[IMG, "running"], ["audit", "stopped"], ["cart-12", "replaying"], ["orders-7", "running"], ["users-3", "restarting"]])
    expect(rows.map((r) => r.pill)).toEqual(["pill s-running", "pill s-stopped", "pill s-replaying", "pill s-running", "pill s-restarting"])
    expect(new Set(rows.map((r) => r.colour)).size).toBe(4)
    expect(await text(page, "#r-summary")).toBe("5 serfs: 2 running, 1 replaying, 1 restarting, 1 stopped · rates over 10 s")
    // an id is text, never markup
    expect(await page.evaluate(() => [document.querySelectorAll("#runner img").length, document.body.dataset.pwned ?? null])).toEqual([0, null])
    expect(await page.evaluate(() => Array.from(document.querySelectorAll("[aria-live], [role=alert]")).map((e: any) => e.id))).toEqual(["health"])
    // the widest state fits its column
    expect(await page.evaluate(() => Array.from(document.querySelectorAll("#serfs td:not(:first-child)")).filter((td: any) => td.scrollWidth > td.clientWidth).map((td: any) => td.textContent))).toEqual([])
    expect(await overlaps(page)).toEqual([])
    expect(await page.evaluate(() => document.querySelector("#kind").getClientRects().length)).toBe(1)
    await screenshot(page, "status-runner-serf")

    // a runner that owns no shards (yet, or any more)
    await srv.answered("/v1/status/stream", 200)
    srv.push(runner({ healthy: false, shards: 0, serfs: [] }))
    await until(page, "#health-text", "Joining")
    expect(await text(page, "#health-why")).toBe("owns no shards yet")
    expect(await page.title()).toBe("liege serf runner 10.0.4.17:34431 · joining")
  })

  it("follows the serfs of a runner: rows come as serfs are activated and go as they are let go, the others stay where they are", async () => {
    const srv = await statusServer(runner())
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#serfs-empty", "No serfs run on this runner now.")
    expect(await page.locator("#serfs-empty").isVisible()).toBe(true)
    expect(await page.locator("#serfs").isHidden()).toBe(true)
    expect(await text(page, "#r-summary")).toBe("0 serfs · rates over 10 s")
    await srv.answered("/v1/status/stream", 200)

    srv.push(runner({ now: T + 31 * S, serfs: serfList(["cart-12", "orders-7", "users-3"], T + 31 * S) }))
    await until(page, "#r-nserfs", "3")
    expect(await page.locator("#serfs-empty").isHidden()).toBe(true)
    const place = () =>
      page.evaluate(() => {
        const out: Record<string, string> = {}
        for (const tr of Array.from(document.querySelectorAll("#serfs tbody tr")) as Array<any>) {
          tr.seen = tr.seen ?? tr.dataset.serf
          Array.from(tr.cells).forEach((td: any, i) => {
            const r = td.getBoundingClientRect()
            out[`${tr.dataset.serf} ${i}`] = [r.x, r.y, r.width, r.height].map((v: number) => v.toFixed(1)).join(" ")
          })
        }
        return out
      })
    const before = await place()
    const head = await boxes(page, "runner", ["#runner .rhead > *"])

    // audit is activated, cart-12 let go; orders-7 takes an event
    const orders = running({ now: T + 32 * S, pid: 6021, eve: 48_212, lastSnapshotEve: 48_000, restarts: { total: 0, byReason: {}, recent: [] } })
    srv.push(runner({ now: T + 32 * S, serfs: [...serfList(["audit", "users-3"], T + 32 * S), { id: "orders-7", status: orders }] }))
    await until(page, "#serfs tr[data-serf='orders-7'] td:nth-child(4)", "48,212")
    expect((await serfRows(page)).map((r) => [r.serf, r.cells[1]])).toEqual([["audit", "stopped"], ["orders-7", "running"], ["users-3", "restartingnext try in 2.4 s"]])
    // the serfs that stayed are the same rows, in the same place
    expect(await page.evaluate(() => Array.from(document.querySelectorAll("#serfs tbody tr")).map((tr: any) => tr.seen ?? null))).toEqual([null, "orders-7", "users-3"])
    const after = await place()
    for (const serf of ["orders-7", "users-3"]) {
      for (let i = 0; i < 10; i++) expect(after[`${serf} ${i}`], `${serf} ${i}`).toBe(before[`${serf} ${i}`])
    }
    // and nothing else moved: header, runner strip, column heads, the section itself
    expect(await boxes(page, "runner", ["#runner .rhead > *"])).toEqual(head)

    srv.push(runner({ now: T + 33 * S, serfs: [] }))
    await until(page, "#r-nserfs", "0")
    expect(await page.locator("#serfs tbody tr").count()).toBe(0)
    expect(await page.locator("#serfs-empty").isVisible()).toBe(true)
  })

  it("does not move anything when the numbers change length (serf runner)", async () => {
    const ids = ["s-10", "s-9", "s-2"]
    const small = runner({
      shards: 1,
      forwarded: 0,
      startedAt: T + 25 * S,
      serfs: ids.map((id) => ({ id, status: running({ pid: 7, eve: 7, window: { inFlight: 0, max: 4 }, pending: 0, events: rates(0.5, 0.3, 0.4, [1], [0.3]), restarts: { total: 0, byReason: {}, recent: [] }, lastSnapshotEve: null }) }))
    })
    const big = runner({
      now: T + 40 * S,
      shards: 2048,
      forwarded: 12_345_678,
      startedAt: T - 400 * 24 * H,
      serfs: ids.map((id) => ({
        id,
        status: running({ now: T + 40 * S, pid: 4_194_303, eve: 123_456_789, window: { inFlight: 1024, max: 1024 }, pending: 12_345, events: rates(123_456, 1234, 98_765, [], []), restarts: { total: 12_345, byReason: {}, recent: [] }, lastSnapshotEve: 123_456_000 })
      }))
    })
    const more = ["#runner .rhead > *", "#runner .rhead .num", "#runner td"]
    const srv = await statusServer(small)
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#serfs tr[data-serf='s-2'] td:nth-child(4)", "7")
    const before = await boxes(page, "runner", more)
    await srv.answered("/v1/status/stream", 200)
    srv.push(big)
    await until(page, "#serfs tr[data-serf='s-2'] td:nth-child(4)", "123,456,789")
    // numbers in ids by value
    expect((await serfRows(page)).map((r) => r.serf)).toEqual(["s-2", "s-9", "s-10"])
    expect((await serfRows(page))[0]!.cells).toEqual(["s-2", "running", "4194303", "123,456,789", "1,024 / 1,024", "12,345", "123,456", "1.23 s", "12,345", "123,456,000"])
    expect(await text(page, "#r-fwd")).toBe("12,345,678")
    const after = await boxes(page, "runner", more)
    expect(Object.keys(before).length).toBeGreaterThan(40)
    expect(after).toEqual(before)
    // and the longest numbers are whole, not cut
    expect(await page.evaluate(() => Array.from(document.querySelectorAll("#serfs td, #runner .rhead .num")).filter((e: any) => e.scrollWidth > e.clientWidth).map((e: any) => e.textContent))).toEqual([])
  })

  it("shows a pool runner: the pool's own view (workers, rates, queue) and the sessions this runner owns, started and settled", async () => {
    const srv = await statusServer(runner({ role: "pool", forwarded: 9, pool: pool({ sessions: null }), sessions: { owned: 4, started: 31, settled: 27 } }))
    const page = await openUi(srv.url)
    await live(page)
    await until(page, "#kind", "pool runner")
    expect(await page.title()).toBe("liege pool runner 10.0.4.17:34431 · healthy")
    expect(await text(page, "#r-role")).toBe("liege cluster pool")
    expect(await text(page, "#r-fwd")).toBe("9")
    expect(await page.locator("#pool").isVisible()).toBe(true)
    expect(await page.locator("#serfs").isHidden()).toBe(true)
    expect(await page.locator("#r-nserfs").isHidden()).toBe(true)
    const rows = await slotCells(page)
    expect(rows.map((r) => [r.slot, r.cells[4]])).toEqual([["1", "ready"], ["2", "busy"], ["3", "booting"], ["4", "restartingnext try in 1.2 s"]])
    expect(rows[0]!.cells).toEqual(["1", "#5", "g1", "4107", "ready", "0", "1,234", "48.3 MB", "3 h 12 m", "recycled: maxJobs · 3 h 12 m ago"])
    expect(await text(page, "#p-workers")).toBe("4 workers: 1 ready, 1 busy, 1 booting, 1 restarting")
    expect(await text(page, "#q-depth")).toBe("3")
    expect(await text(page, "#r-10")).toBe("41.7")
    expect(await page.locator(".rhead .rpool").allTextContents()).toEqual(["4sessions owned", "31sessions started", "27sessions settled"])
    expect(await text(page, "#sessions-none")).toBe("In the cluster's database; sessions counted above.")
    expect(await page.locator("#p-errors td").count()).toBe(6)
    expect(await overlaps(page)).toEqual([])
    expect(await page.evaluate(() => document.querySelector("#kind").getClientRects().length)).toBe(1)
    await screenshot(page, "status-runner-pool")

    // the session counts follow, and longer numbers move nothing
    const before = await boxes(page, "runner", ["#runner .rhead > *", "#runner .rhead .num"])
    await srv.answered("/v1/status/stream", 200)
    srv.push(runner({ role: "pool", now: T + 31 * S, forwarded: 123_456, pool: pool({ now: T + S, sessions: null }), sessions: { owned: 1_234, started: 9_876_543, settled: 9_875_309 } }))
    await until(page, "#r-started", "9,876,543")
    expect(await page.locator(".rhead .rpool").allTextContents()).toEqual(["1,234sessions owned", "9,876,543sessions started", "9,875,309sessions settled"])
    expect(await boxes(page, "runner", ["#runner .rhead > *", "#runner .rhead .num"])).toEqual(before)

    // its pool failing is the runner's health
    srv.push(runner({ role: "pool", healthy: false, pool: pool({ healthy: false, failed: { reason: "restart intensity exceeded: 5 restarts in 10 s", since: T, retryAt: T + 30 * S }, sessions: null }), sessions: { owned: 0, started: 31, settled: 27 } }))
    await until(page, "#health-text", "Failed")
    expect(await text(page, "#health-why")).toBe("restart intensity exceeded: 5 restarts in 10 s · retrying at 09:30:30")
    expect(await page.title()).toBe("liege pool runner 10.0.4.17:34431 · failed")
  })

  it("fits a narrow window: the runner strip in two rows, its address whole, the serfs table scrolls", async () => {
    const srv = await statusServer(runner({ role: "pool", pool: pool({ sessions: null }), sessions: { owned: 4, started: 31, settled: 27 } }))
    const page = await openUi(srv.url, { viewport: { width: 760, height: 1000 } })
    await live(page)
    await until(page, "#r-owned", "4")
    const strip = () =>
      page.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        rows: new Set(Array.from(document.querySelectorAll(".rhead > div")).filter((d: any) => d.getBoundingClientRect().width > 0).map((d: any) => Math.round(d.getBoundingClientRect().top))).size,
        cut: Array.from(document.querySelectorAll(".rhead .num, .rhead .k")).filter((e: any) => e.scrollWidth > e.clientWidth).map((e: any) => e.textContent)
      }))
    expect(await strip()).toEqual({ page: 760, rows: 2, cut: [] })
    expect(await overlaps(page)).toEqual([])
    await screenshot(page, "status-runner-pool-narrow")

    await srv.answered("/v1/status/stream", 200)
    srv.push(runner({ serfs: serfList(["orders-7", "cart-12"]) }))
    await page.locator("#serfs tbody tr").nth(1).waitFor()
    expect(await strip()).toEqual({ page: 760, rows: 2, cut: [] })
    expect(await page.evaluate(() => {
      const box = document.querySelector("#serfs").parentElement
      return box.scrollWidth > box.clientWidth
    })).toBe(true)
  })
})
