/**
 * The status page (SPEC §10) in each form a server serves it in. Its script
 * is the source text of the client's functions as the server runs them
 * (src/status/page/client/index.ts), so it differs by how the server was
 * built: the sources as vitest loads them, the sources as Node runs them
 * (type stripping), the library as tsc emits it (`dist/`), the command as
 * esbuild bundles and minifies it (`dist/bin/`). In each form the page's
 * Content-Security-Policy must admit its one inline script and its one inline
 * style by their hashes and need nothing more, and the page must run in
 * chromium under it: a pool, a serf and both kinds of runner shown, with no
 * violation, no uncaught exception and no error logged. (The packed
 * package's own `liege pool` is checked the same way in
 * test/package/consumer.test.ts.)
 */
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { promisify } from "node:util"
import { build, stop } from "esbuild"
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest"
import { bundleOptions } from "../../scripts/bundle.ts"
import type { PoolStatus, Rates, RunnerStatus, SerfStatus, Status } from "../../src/status/document.ts"
import { page as vitestPage } from "../../src/status/page/index.ts"
import { troubleOf, useBrowser } from "../support/browser.ts"
import { node, root } from "../support/procs.ts"

const run = promisify(execFile)
const source = path.join(root, "src/status/page/index.ts")

/** The page a fresh Node process gets from the module at `file`. */
const pageOf = async (file: string): Promise<string> => {
  const program = `import { page } from ${JSON.stringify(pathToFileURL(file).href)}; process.stdout.write(page)`
  const { stdout } = await run(node, ["--input-type=module", "-e", program], { maxBuffer: 1 << 22 })
  return stdout
}

let dir = ""
const pages = new Map<string, string>()
/** The forms, each with the most its page may weigh. */
const forms = [
  { name: "the sources as vitest loads them", kb: 52 },
  { name: "the sources as Node runs them (type stripping)", kb: 52 },
  { name: "the library as tsc emits it", kb: 52 },
  { name: "the command as esbuild bundles it, minified", kb: 40 }
] as const

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "liege-page-forms-"))
  // tsc with the library's settings (tsconfig.build.json), on the page's module alone
  const tsconfig = path.join(dir, "tsconfig.json")
  fs.writeFileSync(tsconfig, JSON.stringify({
    extends: path.join(root, "tsconfig.build.json"),
    compilerOptions: {
      outDir: path.join(dir, "tsc"),
      rootDir: path.join(root, "src"),
      declaration: false,
      declarationMap: false,
      sourceMap: false,
      inlineSources: false,
      typeRoots: [path.join(root, "node_modules/@types")]
    },
    files: [source]
  }))
  await run(path.join(root, "node_modules/.bin/tsc"), ["-p", tsconfig])
  // esbuild with the command's settings (scripts/bundle.ts)
  try {
    await build({ ...bundleOptions, entryPoints: [source], outdir: path.join(dir, "esbuild") })
  } finally {
    // esbuild's service process
    await stop()
  }
  pages.set(forms[0].name, vitestPage)
  pages.set(forms[1].name, await pageOf(source))
  pages.set(forms[2].name, await pageOf(path.join(dir, "tsc/status/page/index.js")))
  pages.set(forms[3].name, await pageOf(path.join(dir, "esbuild/index.js")))
}, 120_000)

afterAll(() => {
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`
/** The texts of every `<tag>` element of `html`. */
const inline = (html: string, tag: string) => Array.from(html.matchAll(new RegExp(`<${tag}\\b[^>]*>([\\s\\S]*?)</${tag}>`, "g")), (m) => m[1]!)
/** The page's policy, directive by directive. */
const policyOf = (html: string): Record<string, string> => {
  const content = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1] ?? ""
  return Object.fromEntries(content.split(";").map((d) => d.trim().split(/\s+(.*)/s).slice(0, 2)))
}

const rates: Rates = {
  last10s: { windowMs: 10_000, count: 417, perSec: 41.7, p50Ms: 3.2, p99Ms: 18.5 },
  last60s: { windowMs: 60_000, count: 2_300, perSec: 38.3, p50Ms: 3.5, p99Ms: 22.2 },
  perSecond: [0, 3, 40, 41, 38],
  p50PerSecond: [null, 2.5, 3.1, null, 3.3]
}
const T = Date.UTC(2026, 0, 12, 9, 30, 0)
const pool: PoolStatus = {
  kind: "pool", now: T, startedAt: T - 60_000, healthy: true, failed: null,
  workers: [
    { slot: 1, worker: 1, pid: 4101, state: "ready", nextTryAt: null, inFlight: 0, served: 12, rssBytes: 48_000_000, startedAt: T - 60_000, readyAt: T - 59_700, lastExit: null, generation: 2, successor: { pid: 4188, generation: 3, why: "reload" } },
    { slot: 2, worker: null, pid: null, state: "restarting", nextTryAt: T + 1_200, inFlight: 0, served: 3, rssBytes: null, startedAt: null, readyAt: null, lastExit: { at: T - 800, end: "Died", reason: "crashed (exit code 9)", code: 9, signal: null }, generation: null, successor: null }
  ],
  queue: { depth: 3, max: 64 },
  requests: rates,
  ready: 1,
  inFlight: 0,
  answers: { total: 15, byOutcome: { ok: 15 } },
  restarts: { total: 1, byReason: { "crashed (exit code 9)": 1 }, recent: [] },
  recycles: { total: 0, byReason: {} },
  size: { min: 1, max: 4, running: 2, up: 2, down: 1, last: { at: T - 12_000, change: "up", workers: 2, reason: "3 requests wait and 1 of 1..4 workers run" } },
  reload: { generation: 3, running: { generation: 3, since: T - 4_000, replaced: 0 }, total: 2, failed: 1, last: { at: T - 60_000, generation: 2, replaced: 0, error: "worker 1 did not become ready within 30 s" } },
  errors: [{ at: T - 800, tag: "WorkerCrashed", message: "worker 2 exited with code 9" }],
  sessions: { byState: { queued: 1, running: 1, done: 9, failed: 0 }, busiest: [{ session: "alice", queued: 1, running: 1 }] }
}
const serf: SerfStatus = {
  kind: "serf", now: T, startedAt: T - 14_000, healthy: false, state: "replaying", pid: 5120, replay: { done: 400, total: 1000 },
  nextTryAt: null, failed: null, isolating: false, eve: 12_400, mug: 0x9e3779b9, window: { inFlight: 2, max: 32 }, pending: 3, events: rates,
  logged: 2_310, poisoned: 0,
  commits: { total: 2_310, meanBatch: 8.6, maxBatch: 64 },
  restarts: {
    total: 1,
    byReason: { died: 1 },
    recent: [{ at: T - 20_000, kind: "died", reason: "crashed (signal SIGKILL)", counted: true, poison: false, code: null, signal: "SIGKILL" }]
  },
  lastSnapshotEve: 12_000, logBytes: 38_400_000, errors: []
}
const runner = (over: Partial<RunnerStatus>): RunnerStatus => ({
  kind: "runner", role: "serf", now: T, startedAt: T - 60_000, healthy: true, runner: "10.0.4.17:34431", shards: 150, forwarded: 27,
  serfs: [{ id: "orders-7", status: { ...serf, state: "running", healthy: true, replay: null } }, { id: "cart-12", status: serf }],
  pool: null, sessions: null, ...over
})

/** Serves `html` at `/ui` and status documents at `/v1/status` and `/v1/status/stream`; `push` sends one to the open stream. */
const serve = async (html: string, first: Status) => {
  let current = first
  const streams = new Set<http.ServerResponse>()
  let streaming: () => void = () => {}
  const streamed = new Promise<void>((resolve) => (streaming = resolve))
  const event = (doc: Status) => `data: ${JSON.stringify(doc)}\n\n`
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x").pathname
    if (url === "/ui") return res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html)
    if (url === "/v1/status") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(current))
    if (url === "/v1/status/stream") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" }).write(event(current))
      streams.add(res)
      res.on("close", () => streams.delete(res))
      return streaming()
    }
    res.writeHead(404).end()
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
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    streamed,
    push: (doc: Status) => {
      current = doc
      for (const s of streams) s.write(event(doc))
    }
  }
}

const chromium = useBrowser()

const shows = (page: Page, selector: string, text: string) =>
  page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent === t, [selector, text] as const)

describe("the status page in each form it is served in", () => {
  for (const { name, kb } of forms) {
    it(`${name}: its CSP admits its one script and its one style by their hashes, its markup needs nothing more, its script writes no markup, it weighs under ${kb} KB`, () => {
      const html = pages.get(name)!
      const scripts = inline(html, "script")
      const styles = inline(html, "style")
      expect(scripts).toHaveLength(1)
      expect(styles).toHaveLength(1)
      const policy = policyOf(html)
      expect(policy["script-src"]).toBe(sha256(scripts[0]!))
      expect(policy["style-src"]).toBe(sha256(styles[0]!))
      expect(policy).toMatchObject({ "default-src": "'none'", "connect-src": "'self'", "img-src": "data:", "base-uri": "'none'", "form-action": "'none'" })
      const markup = html.replace(/<script>[\s\S]*?<\/script>|<style>[\s\S]*?<\/style>/g, "")
      // an inline handler, a style attribute or a javascript: URL would each need more than the policy allows
      expect(markup).not.toMatch(/\son[a-z]+\s*=|\sstyle\s*=|javascript:|<script|<style|<link[^>]+stylesheet/i)
      // text from the document reaches the page as textContent or an attribute's value, never as markup
      expect(scripts[0]).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment/)
      expect(Buffer.byteLength(html)).toBeLessThan(kb * 1024)
    })

    it(`${name}: runs in chromium under its CSP — a pool, a serf, a serf runner and a pool runner shown, no violation, no error`, async () => {
      const srv = await serve(pages.get(name)!, pool)
      const page = await chromium.open(`${srv.url}/ui`, { viewport: { width: 1280, height: 900 } })
      await shows(page, "#kind", "pool")
      await shows(page, "#slots tr[data-slot='2'] .pill", "restarting")
      await shows(page, "#p-workers", "2 workers of 1..4: 1 ready, 1 restarting")
      await shows(page, "#slots tr[data-slot='1'] .detail", "→ pid 4188 · g3 · reload")
      await shows(page, "#sz-moves", "grew 2 · shrank 1")
      await shows(page, "#rl-now", "reloading → g3 (0 replaced) · for 4 s")
      await shows(page, "#rl-err", "worker 1 did not become ready within 30 s")
      await shows(page, "#busiest td", "alice")
      await srv.streamed
      srv.push(serf)
      await shows(page, "#kind", "serf")
      await shows(page, "#s-replay-text", "Replaying: 400 of 1,000 events · 40 %")
      await shows(page, "#s-exits td:nth-child(3)", "signal SIGKILL")
      srv.push(runner({}))
      await shows(page, "#kind", "serf runner")
      await shows(page, "#r-summary", "2 serfs: 1 running, 1 replaying · rates over 10 s")
      srv.push(runner({ role: "pool", serfs: [], pool, sessions: { owned: 4, started: 31, settled: 27 } }))
      await shows(page, "#kind", "pool runner")
      await shows(page, "#r-owned", "4")
      expect(await page.locator("#live-text").textContent()).toMatch(/^live · updated /)
      expect(troubleOf(page)).toEqual({ csp: [], uncaught: [], console: [] })
    })
  }

  it("catches a page whose script is not the one its CSP admits: chromium refuses it and the refusal is reported", async () => {
    const html = vitestPage.replace("<script>", "<script>/* changed */")
    const srv = await serve(html, pool)
    const page = await chromium.open(`${srv.url}/ui`, {}, { troubleExpected: true })
    await page.waitForFunction(() => document.readyState === "complete")
    await expect.poll(() => troubleOf(page).csp).toEqual([expect.stringMatching(/^script-src(-elem)? refused inline/)])
    expect(await page.locator("#live-text").textContent()).toBe("connecting…")
  })
})
