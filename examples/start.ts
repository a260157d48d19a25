/**
 * `npm start`: `liege serf` on the Node key-value serf, with its pier in
 * ./data/pier, on 127.0.0.1:7070 — and the curl lines to talk to it.
 */
import * as module from "node:module"

module.enableCompileCache?.()
const url = "http://127.0.0.1:7070"
console.log(`send an event:  curl -X POST ${url}/v1/events -d '{"op":"put","key":"hello","value":"world"}'`)
console.log(`read it back:   curl ${url}/v1/peek/get/hello`)
console.log(`snapshot:       curl -X POST ${url}/v1/snapshot        (Ctrl-C stops: drain, save, exit 0)`)
const { main } = await import("../src/cli/main.ts")
main(["serf", "--pier", "./data/pier", "--", process.execPath, new URL("./kv-serf.ts", import.meta.url).pathname])
