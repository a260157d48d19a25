/**
 * The package as a user gets it: `npm pack` (which builds `dist/`), then the
 * tarball installed with real npm into an empty project that cannot see this
 * repository's sources, on Node 24 and on the oldest Node `engines` declares.
 *
 * (a) the README's Library example, written into the project as it stands
 *     in the README: `Supervisor.spawn`, a `Pool` on a `liege/worker` worker
 *     of the project (an answer and a streamed one), a `Pier` on a
 *     `liege/worker` serf;
 * (e) the README's Effect RPC example, likewise: an `effect/rpc` group served
 *     by `liege/worker/rpc`, called through `RpcPool.Client`, beside a
 *     `Pool.Service` typed by Schemas;
 * (b) a TypeScript program type-checks against the shipped `.d.ts` under
 *     strict settings with `skipLibCheck: false` (typed pools and an RPC
 *     client included), and deliberate type errors in it are reported;
 * (c) `npx liege run` and `npx liege pool` work (a streamed answer as
 *     Server-Sent Events too), and the pool's status page (`GET /ui`, its
 *     script bundled and minified) runs in chromium under its
 *     Content-Security-Policy: no violation, no error.
 */
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { troubleOf, useBrowser } from "../support/browser.ts"
import { healthy, post, request } from "../support/http.ts"
import { liveProcesses } from "../support/proc.ts"
import { eventually, root } from "../support/procs.ts"

const run = promisify(execFile)
/** A README program that hangs is killed (with what it started: its pools stop their workers on SIGTERM) rather than outliving the test. */
const bounded = { timeout: 60_000, killSignal: "SIGTERM" } as const

/** The live processes whose command line contains `needle`. */
const pidsOf = (needle: string): Array<string> => liveProcesses({ cmdline: needle }).map((p) => String(p.pid))

const running = (needle: string): boolean => pidsOf(needle).length > 0

/** The live processes running a `…worker.mjs` of the project `cwd`. */
const workersIn = (cwd: string): Array<string> =>
  liveProcesses({ cmdline: "worker.mjs" }).filter((p) => {
    try {
      return fs.realpathSync(`/proc/${p.pid}/cwd`) === fs.realpathSync(cwd)
    } catch {
      return false
    }
  }).map((p) => p.cmdline)
const chromium = useBrowser()
const repo = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  readonly version: string
  readonly engines: { readonly node: string }
  readonly devDependencies: Record<string, string>
}
/** The oldest Node the package declares (`>=22.19` → 22.19.0). */
const oldest = /^>=(\d+\.\d+(?:\.\d+)?)$/.exec(repo.engines.node)![1]!.split(".").concat("0").slice(0, 3).join(".")

let dir = ""
let app = ""
/** A Node older than `engines` allows. */
let node20 = ""
const nodes: Array<{ readonly label: string; readonly bin: string }> = [{ label: "Node 24", bin: process.execPath }]

/** The environment of a command run in the project with `node` = `bin` first on PATH. */
const envFor = (bin: string) => ({ ...process.env, PATH: `${path.dirname(bin)}:${process.env["PATH"]}`, npm_config_update_notifier: "false" })

const npm = (args: ReadonlyArray<string>, cwd: string) =>
  run("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd, env: envFor(process.execPath), maxBuffer: 1 << 24 })

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "liege-consumer-"))
  await npm(["pack", "--pack-destination", dir], root)
  const tarball = path.join(dir, `liege-${repo.version}.tgz`)
  app = path.join(dir, "app")
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({
    name: "liege-consumer",
    private: true,
    type: "module",
    dependencies: { liege: `file:${tarball}`, effect: repo.devDependencies["effect"] },
    devDependencies: { typescript: repo.devDependencies["typescript"], "@types/node": repo.devDependencies["@types/node"] }
  }))
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(app, name), text)
  const older = path.join(dir, "node-oldest")
  fs.mkdirSync(older)
  fs.writeFileSync(path.join(older, "package.json"), JSON.stringify({ name: "node-oldest", private: true }))
  const tooOld = path.join(dir, "node-20")
  fs.mkdirSync(tooOld)
  fs.writeFileSync(path.join(tooOld, "package.json"), JSON.stringify({ name: "node-20", private: true }))
  await Promise.all([npm(["install"], app), npm(["install", `node@${oldest}`], older), npm(["install", "node@20"], tooOld)])
  nodes.push({ label: `Node ${oldest}`, bin: path.join(older, "node_modules/node/bin/node") })
  node20 = path.join(tooOld, "node_modules/node/bin/node")
}, 300_000)

afterAll(() => {
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

/** The README's example files: each code block after a `<!-- file: NAME -->` line, as written. */
const readmeFiles = (): Record<string, string> => {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
  const found: Record<string, string> = {}
  for (const m of readme.matchAll(/<!-- file: (\S+) -->\n```\w*\n([\s\S]*?)```/g)) found[m[1]!] = m[2]!
  return found
}

const files: Record<string, string> = {
  ...readmeFiles(),
  "tsconfig.json": JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      noPropertyAccessFromIndexSignature: true,
      noImplicitReturns: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: false,
      noEmit: true,
      types: ["node"]
    },
    files: ["typed.ts"]
  }),
  "typed.ts": `import { Effect, Schema, Stream } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import { Pier, Pool, RpcPool, Supervisor } from "liege"
import { serve } from "liege/worker/rpc"

const Doubled = Schema.Struct({ doubled: Schema.Number })
class Doubler extends Pool.Service<Doubler>()("Doubler", {
  command: "node",
  args: ["worker.mjs"],
  request: Schema.Struct({ n: Schema.Number }),
  response: Doubled
}) {}

const Group = RpcGroup.make(
  Rpc.make("Add", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number }),
  Rpc.make("Range", { payload: { to: Schema.Number }, success: Schema.Number, stream: true })
)
class Client extends RpcPool.Client<Client>()("Client", Group, { command: "node", args: ["rpc-worker.mjs"], credit: 4 }) {}

export const serving = () => serve(Group, Group.toLayer({ Add: ({ a, b }) => Effect.succeed(a + b), Range: ({ to }) => Stream.range(1, to) }))

export const services = Effect.gen(function*() {
  const doubler = yield* Doubler
  const doubled: number = (yield* doubler.submit({ n: 21 })).doubled
  // @ts-expect-error — the request's Schema wants a number
  yield* doubler.submit({ n: "21" })
  const typed = yield* Pool.make({ command: "node", args: ["worker.mjs"], request: Schema.Struct({ n: Schema.Number }), response: Doubled })
  const parts: ReadonlyArray<Pool.StreamPart> = yield* Stream.runCollect(typed.stream({ n: 1 }, { credit: 2 }))
  yield* typed.whenReady
  const client = yield* Client
  const sum: number = yield* client.Add({ a: 1, b: 2 })
  // @ts-expect-error — Add takes numbers
  yield* client.Add({ a: "1", b: 2 })
  const range: ReadonlyArray<number> = yield* Stream.runCollect(client.Range({ to: 3 }))
  return { doubled, parts, sum, range }
}).pipe(Effect.scoped)

export const program = Effect.scoped(Effect.gen(function*() {
  const child = yield* Supervisor.spawn({ command: "sh", args: ["-c", "exit 3"], grace: "1 second" })
  const result: Supervisor.Result = yield* child.result
  const pool = yield* Pool.make({ command: process.execPath, args: ["worker.mjs"], workers: 2, execTimeout: "5 seconds" })
  const answer: unknown = yield* pool.submit({ n: 21 })
  const pier = yield* Pier.open({ dir: "./data/pier", command: "python3", args: ["serf.py"] })
  const poked: Pier.PokeAnswer = yield* pier.poke({ op: "put", key: "a", value: 1 })
  return { code: result.code, answer, eve: poked._tag === "Bail" ? undefined : poked.eve }
}))
`,
  "wrong.ts": `import { Effect } from "effect"
import { Supervisor } from "liege"

export const program = Effect.scoped(Effect.gen(function*() {
  const child = yield* Supervisor.spawn({ command: "true" })
  const code: string = (yield* child.result).code
  return code
}))
`
}

describe("the packed package in an empty project", () => {
  it("ships dist/, docs, the Python SDK, README and LICENSE, and no tests, benches or CI files", async () => {
    const { stdout } = await run("tar", ["-tzf", path.join(dir, `liege-${repo.version}.tgz`)])
    const listed = stdout.split("\n").filter((l) => l !== "").map((l) => l.replace(/^package\//, ""))
    for (const wanted of ["package.json", "README.md", "LICENSE", "docs/protocol.md", "examples/python/liege.py", "dist/index.js", "dist/index.d.ts", "dist/worker/index.js", "dist/worker/index.d.ts", "dist/worker/rpc.js", "dist/worker/rpc.d.ts", "dist/bin/liege.js"]) {
      expect(listed).toContain(wanted)
    }
    expect(listed.filter((f) => /^(test|bench|src|scripts|\.ci)\/|vitest|tsconfig/.test(f))).toEqual([])
  })

  for (const index of [0, 1]) {
    it(`(a) the README's Library example runs as written: Supervisor, Pool on a liege/worker worker, Pier — ${index === 0 ? "Node 24" : "the oldest declared Node"}`, async () => {
      const node = nodes[index]!
      const { stdout } = await run(node.bin, ["main.mjs"], { cwd: app, env: envFor(node.bin), ...bounded })
      expect(stdout).toMatch(/code: 3/)
      expect(stdout).toMatch(/answer: \{ doubled: 42 \}/)
      expect(stdout).toMatch(/streamed: \[ 1, 2, 3, \{ counted: 3 \} \]/)
      // the counter's log is kept between runs: total = 2 × eve
      const m = /eve: (\d+),\s+total: (\d+)/.exec(stdout)
      expect(m, stdout).not.toBeNull()
      expect(Number(m![2])).toBe(2 * Number(m![1]))
    })
  }

  for (const index of [0, 1]) {
    it(`(e) the README's Effect RPC example runs as written: an RpcPool.Client on a liege/worker/rpc worker beside a typed Pool.Service — ${index === 0 ? "Node 24" : "the oldest declared Node"}`, async () => {
      const node = nodes[index]!
      const { stdout } = await run(node.bin, ["rpc-main.mjs"], { cwd: app, env: envFor(node.bin), ...bounded })
      expect(stdout).toMatch(/sum: 42,/)
      expect(stdout).toMatch(/divided: '1 \/ 0 refused',/)
      expect(stdout).toMatch(/range: \[ 1, 2, 3, 4, 5 \],/)
      expect(stdout).toMatch(/doubled: 42,/)
      expect(stdout).toMatch(/refused: 'SchemaError'/)
      // both pools had stopped their workers when the program printed
      expect(workersIn(app)).toEqual([])
    })
  }

  it("(b) a TypeScript program type-checks against the shipped .d.ts (strict, skipLibCheck false); a type error is reported", async () => {
    const tsc = path.join(app, "node_modules/typescript/bin/tsc")
    await run(process.execPath, [tsc, "-p", "."], { cwd: app }).catch((e: { stdout: string }) => {
      throw new Error(`tsc failed on the project:\n${e.stdout}`)
    })
    fs.writeFileSync(path.join(app, "tsconfig.wrong.json"), JSON.stringify({ extends: "./tsconfig.json", files: ["wrong.ts"] }))
    const wrong = await run(process.execPath, [tsc, "-p", "tsconfig.wrong.json"], { cwd: app }).then(
      () => "",
      (e: { stdout: string }) => e.stdout
    )
    expect(wrong).toMatch(/wrong\.ts\(6,\d+\): error TS2322/)
  })

  it("(d) on a Node older than the package supports, every subcommand exits 1 with one line naming the version it needs", async () => {
    const env = envFor(node20)
    const version = (await run(node20, ["--version"])).stdout.trim()
    expect(version).toMatch(/^v20\./)
    for (const args of [["run", "--", "true"], ["serf", "--pier", path.join(dir, "p"), "--", "true"], ["pool", "--", "true"], ["cluster", "serf"], ["--help"]]) {
      const ran = await run(node20, [path.join(app, "node_modules/.bin/liege"), ...args], { cwd: app, env }).then(
        () => ({ code: 0, stderr: "", stdout: "" }),
        (e: { code: number; stderr: string; stdout: string }) => e
      )
      expect(ran.code).toBe(1)
      expect(ran.stdout).toBe("")
      expect(ran.stderr).toBe(`liege: needs Node.js 22.19 or later; this is Node.js ${version.slice(1)}\n`)
    }
    expect(fs.existsSync(path.join(dir, "p"))).toBe(false)
  })

  for (const index of [0, 1]) {
    it(`(c) npx liege run and npx liege pool, its status page running under its CSP — ${index === 0 ? "Node 24" : "the oldest declared Node"}`, async () => {
      const node = nodes[index]!
      const env = envFor(node.bin)
      await run("npx", ["--no-install", "liege", "run", "--", "true"], { cwd: app, env })
      const four = await run("npx", ["--no-install", "liege", "run", "--", "sh", "-c", "exit 4"], { cwd: app, env }).then(
        () => 0,
        (e: { code: number }) => e.code
      )
      expect(four).toBe(4)
      // npx runs liege under `sh`: it leads its own process group, and SIGTERM goes to the group
      const proc = spawn("npx", ["--no-install", "liege", "pool", "--workers", "1", "--listen", "127.0.0.1:0", "--state", path.join(dir, `state-${index}.db`), "--", "node", "worker.mjs"], {
        cwd: app,
        env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      let err = ""
      proc.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
      proc.stderr.setEncoding("utf8").on("data", (d: string) => (err += d))
      const exited = new Promise<void>((resolve) => proc.on("exit", () => resolve()))
      try {
        await eventually(() => /listening on http:\/\/\S+\n/.test(out), 30_000, `the listening line (stderr: ${err})`)
        const url = /listening on (http:\/\/\S+)\n/.exec(out)![1]!
        await healthy(url)
        const answer = await post(`${url}/v1/jobs`, { n: 2 })
        expect(answer.status).toBe(200)
        expect(answer.body.ok.doubled).toBe(4)
        // the README's streamed answer, as Server-Sent Events
        const events = await fetch(`${url}/v1/jobs`, { method: "POST", headers: { accept: "text/event-stream" }, body: JSON.stringify({ upTo: 2 }) })
        expect(events.status).toBe(200)
        expect(events.headers.get("content-type")).toBe("text/event-stream")
        expect(await events.text()).toBe('event: chunk\ndata: 1\n\nevent: chunk\ndata: 2\n\nevent: done\ndata: {"counted":2}\n\n')
        // the liege that answered runs on the Node first on PATH
        const liegePid = pidsOf(`state-${index}.db`).find((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("liege pool"))
        expect(liegePid).toBeDefined()
        expect(fs.realpathSync(`/proc/${liegePid}/exe`)).toBe(fs.realpathSync(node.bin))
        expect((await request("GET", `${url}/metrics`)).text).toContain("liege_pool_ready_workers 1")
        // the page as the package serves it: its script is the bundle's, minified
        const page = await chromium.open(`${url}/ui`)
        await page.waitForFunction(() => document.querySelector("#slots tr[data-slot='1'] .pill")?.textContent === "ready")
        // the two jobs above, counted in the last 60 s
        await page.waitForFunction(() => document.querySelector("#r-count")?.textContent === "2")
        await page.locator("body[data-conn=live]").waitFor({ state: "attached" })
        expect(troubleOf(page)).toEqual({ csp: [], uncaught: [], console: [] })
        await page.close()
      } finally {
        process.kill(-proc.pid!, "SIGTERM")
        await exited
        // npm exits at once; liege drains, stops its worker and exits on its own
        await eventually(() => !running(`state-${index}.db`), 20_000, "liege to exit")
      }
    })
  }
})
