#!/usr/bin/env node
// The compile cache keeps the stripped and compiled modules between runs (a
// cold start of the command is mostly module loading).
import * as module from "node:module"

module.enableCompileCache?.()
const { main } = await import("../src/cli/main.ts")
main(process.argv.slice(2))
