#!/usr/bin/env node
// The `liege` command's entry. The compile cache keeps compiled modules
// between runs (a cold start of the command is mostly module loading).
import * as module from "node:module"

module.enableCompileCache?.()
const { main } = await import("./main.ts")
main(process.argv.slice(2))
