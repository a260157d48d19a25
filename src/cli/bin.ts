#!/usr/bin/env node
// The `liege` command's entry. The compile cache keeps compiled modules
// between runs (a cold start of the command is mostly module loading).
import * as module from "node:module"

module.enableCompileCache?.()
// Node 22 calls node:sqlite experimental and says so on stderr at every start of
// `liege serf` and `liege pool`; liege's own process keeps stderr for its log lines.
const emitWarning = process.emitWarning
process.emitWarning = ((warning: string | Error, ...rest: Array<unknown>) => {
  if (String(warning).startsWith("SQLite is an experimental feature")) return
  return (emitWarning as (...args: Array<unknown>) => void).call(process, warning, ...rest)
}) as typeof process.emitWarning
const { main } = await import("./main.ts")
main(process.argv.slice(2))
