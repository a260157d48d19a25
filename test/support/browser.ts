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
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Browser, type BrowserContextOptions, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, onTestFinished } from "vitest"
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
  /** A new page (in a context of its own, closed when the test finishes) at `url`. */
  readonly open: (url: string, options?: BrowserContextOptions) => Promise<Page>
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
    open: async (url, options = {}) => {
      if (browser === undefined) throw new Error("useBrowser: chromium is not running (beforeAll did not run or failed)")
      const context = await browser.newContext({ locale: "en-US", timezoneId: "UTC", ...options })
      onTestFinished(() => context.close())
      const asked: Array<string> = []
      // every request the page makes, from its first load on
      context.on("request", (r) => asked.push(r.url()))
      const page = await context.newPage()
      requests.set(page, asked)
      page.setDefaultTimeout(15_000)
      await page.goto(url)
      return page
    }
  }
}

const requests = new WeakMap<Page, ReadonlyArray<string>>()

/** The URLs a page opened by `useBrowser` asked for, from its first load on. */
export const requestsOf = (page: Page): ReadonlyArray<string> => requests.get(page) ?? []

/** Saves a full-page screenshot (transitions run to their end) as `test-artifacts/NAME.png` and answers its path. */
export const screenshot = async (page: Page, name: string): Promise<string> => {
  fs.mkdirSync(artifacts, { recursive: true })
  const file = path.join(artifacts, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true, animations: "disabled" })
  return file
}
