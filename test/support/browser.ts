/**
 * A real browser for the page tests: Debian's chromium driven by
 * playwright-core, headless, with nothing that reaches past the machine.
 *
 * `useBrowser()` starts one chromium for the test file (beforeAll) and
 * closes it after the file (afterAll), before the leak guard looks: every
 * chromium process carries the test's environment (LIEGE_LEAK_TAG among it),
 * so one left alive fails the file. Each `open` gets its own context (its
 * own storage) and is closed when its test finishes. Chromium's home, config
 * and cache (crash reports, NSS database, font cache) live in a temporary
 * directory removed afterwards; its profile is a fresh temporary directory
 * that playwright removes on close.
 *
 * Each page's troubles are recorded from its first load on (`troubleOf`):
 * Content-Security-Policy violations (the page's `securitypolicyviolation`
 * events), uncaught exceptions of its script, and what it logs as errors. A
 * CSP violation or an uncaught exception fails the test that opened the page.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Browser, type BrowserContextOptions, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, expect, onTestFinished } from "vitest"
import { root } from "./procs.ts"

export const chromiumPath = "/usr/bin/chromium"

/** Screenshots and other files a person may look at after a run (git-ignored). */
export const artifacts = path.join(root, "test-artifacts")

const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic"
]

export interface Chromium {
  /**
   * A new page (in a context of its own, closed when the test finishes) at
   * `url`; unless `troubleExpected`, a CSP violation or an uncaught exception
   * in it fails the test.
   */
  readonly open: (url: string, options?: BrowserContextOptions, check?: { readonly troubleExpected?: boolean }) => Promise<Page>
}

const missing = () =>
  new Error(
    `${chromiumPath} not found: the browser tests run Debian's chromium (install the \`chromium\` package: apt-get install chromium)`
  )

const launch = async (home: string): Promise<Browser> => {
  try {
    fs.accessSync(chromiumPath, fs.constants.X_OK)
  } catch {
    throw missing()
  }
  for (const dir of ["config", "cache"]) fs.mkdirSync(path.join(home, dir))
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args,
    env: {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, "config"),
      XDG_CACHE_HOME: path.join(home, "cache")
    },
    timeout: 30_000
  })
}

/** One chromium for the calling test file. */
export const useBrowser = (): Chromium => {
  let browser: Browser | undefined
  let home: string | undefined
  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "liege-chromium-"))
    browser = await launch(home)
  })
  afterAll(async () => {
    try {
      await browser?.close()
    } finally {
      if (home !== undefined) fs.rmSync(home, { recursive: true, force: true })
    }
  })
  return {
    open: async (url, options = {}, check = {}) => {
      if (browser === undefined) throw new Error("useBrowser: chromium is not running (beforeAll did not run or failed)")
      const context = await browser.newContext({ locale: "en-US", timezoneId: "UTC", ...options })
      onTestFinished(() => context.close())
      const asked: Array<string> = []
      // every request the page makes, from its first load on
      context.on("request", (r) => asked.push(r.url()))
      const trouble = { csp: [] as Array<string>, uncaught: [] as Array<string>, console: [] as Array<string> }
      // the init script runs before the page's own and outside its CSP; the binding reports to this process
      await context.exposeBinding(violationBinding, (_source, text: string) => void trouble.csp.push(text))
      await context.addInitScript((name) => {
        document.addEventListener("securitypolicyviolation", (e) => {
          const report = (window as unknown as Record<string, (text: string) => void>)[name]
          report?.(`${e.effectiveDirective} refused ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`)
        })
      }, violationBinding)
      const page = await context.newPage()
      page.on("pageerror", (e) => trouble.uncaught.push(e.message))
      page.on("console", (m) => {
        if (m.type() === "error") trouble.console.push(m.text())
      })
      requests.set(page, asked)
      troubles.set(page, trouble)
      if (check.troubleExpected !== true) {
        onTestFinished(() => {
          expect(trouble.csp, "Content-Security-Policy violations").toEqual([])
          expect(trouble.uncaught, "uncaught exceptions in the page").toEqual([])
        })
      }
      page.setDefaultTimeout(15_000)
      await page.goto(url)
      return page
    }
  }
}

const requests = new WeakMap<Page, ReadonlyArray<string>>()
const violationBinding = "__liegeCspViolation"

/** What went wrong in a page opened by `useBrowser`, from its first load on. */
export interface Trouble {
  /** Content-Security-Policy violations: the directive, what it refused, where. */
  readonly csp: ReadonlyArray<string>
  /** Uncaught exceptions (and unhandled rejections) of the page's script. */
  readonly uncaught: ReadonlyArray<string>
  /** What the page logged as errors (chromium's own CSP reports and failed requests among them). */
  readonly console: ReadonlyArray<string>
}

const troubles = new WeakMap<Page, Trouble>()

/** What went wrong in `page` (opened by `useBrowser`) so far. */
export const troubleOf = (page: Page): Trouble => troubles.get(page) ?? { csp: [], uncaught: [], console: [] }

/** The URLs a page opened by `useBrowser` asked for, from its first load on. */
export const requestsOf = (page: Page): ReadonlyArray<string> => requests.get(page) ?? []

/** Saves a full-page screenshot (transitions run to their end) as `test-artifacts/NAME.png` and answers its path. */
export const screenshot = async (page: Page, name: string): Promise<string> => {
  fs.mkdirSync(artifacts, { recursive: true })
  const file = path.join(artifacts, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true, animations: "disabled" })
  return file
}
