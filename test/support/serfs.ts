import { Effect, Exit } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Pier } from "../../src/pier/pier.ts"
import type { PokeError } from "../../src/pier/types.ts"
import { fixture, node, root } from "./procs.ts"

export const kvSerf = { command: node, args: [path.join(root, "examples/kv-serf.ts")] }
export const testSerf = (env: Record<string, string> = {}) => ({
  command: node,
  args: [fixture("test-serf.ts")],
  env
})

/** A fresh temporary folder, removed by the caller when done. */
export const tempDir = (prefix = "liege-test-") => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** Runs `f` with a fresh temporary folder, removed afterwards whatever happens. */
export const inTemp = async <A>(prefix: string, f: (dir: string) => Promise<A>): Promise<A> => {
  const dir = tempDir(prefix)
  try {
    return await f(dir)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Pokes every event, in this order, without waiting for the answers; then waits for them all. */
export const pokeAll = (pier: Pier, events: ReadonlyArray<unknown>) =>
  Effect.forEach(events, (ev) => Effect.exit(pier.poke(ev)), { concurrency: "unbounded" })

/** The error a poke failed with, if it failed. */
export const failureOf = (exit: Exit.Exit<unknown, PokeError>): PokeError | undefined =>
  Exit.isFailure(exit) ? Exit.findErrorOption(exit).pipe((o) => (o._tag === "Some" ? o.value : undefined)) : undefined
