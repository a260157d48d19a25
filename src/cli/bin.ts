#!/usr/bin/env node
// The `liege` command's entry. The compile cache keeps compiled modules
// between runs (a cold start of the command is mostly module loading).
import * as module from "node:module"

// The package needs Node.js 22.19 or later (node:sqlite, process.execve, …): an older one gets one
// line, not a stack trace from the first module that is missing.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`liege: needs Node.js 22.19 or later; this is Node.js ${process.versions.node}\n`)
  process.exit(1)
}

module.enableCompileCache?.()

// The servers (serf, pool, cluster) run with V8's young generation capped at
// 8 MiB a semi-space: under load their resident size stays ~100 MB lower
// (measured in bench/startup.ts: the live heap is ~16 MB; the rest was young
// garbage and the old space grown to hold what it promoted) at the same
// throughput. V8 reads that size only at start, so the process replaces
// itself once with the flag (same pid). `liege run` does not: it must start
// fast. From the repository's sources a second start would type-strip again,
// so only the packaged command (.js) does it.
const SEMI_SPACE = "--max-semi-space-size=8"
const subcommand = process.argv.slice(2).find((a) => ["run", "serf", "pool", "cluster", "--"].includes(a))
const server = subcommand === "serf" || subcommand === "pool" || subcommand === "cluster"
if (server && import.meta.url.endsWith(".js") && !process.execArgv.includes(SEMI_SPACE) && typeof process.execve === "function") {
  process.execve(process.execPath, [process.execPath, SEMI_SPACE, ...process.execArgv, ...process.argv.slice(1)], process.env)
}

// Node 22 calls node:sqlite experimental and says so on stderr at every start of
// `liege serf` and `liege pool`; liege's own process keeps stderr for its log lines.
const emitWarning = process.emitWarning
process.emitWarning = ((warning: string | Error, ...rest: Array<unknown>) => {
  if (String(warning).startsWith("SQLite is an experimental feature")) return
  return (emitWarning as (...args: Array<unknown>) => void).call(process, warning, ...rest)
}) as typeof process.emitWarning
const { main } = await import("./main.ts")
main(process.argv.slice(2))
