import * as path from "node:path"
import { Effect } from "effect"
import type { Pool } from "../../src/pool/pool.ts"
import { fixture, node, root } from "./procs.ts"

export const faulty = (env: Record<string, string> = {}) => ({ command: node, args: [fixture("faulty-worker.ts")], env })
export const nodeWorker = { command: node, args: [path.join(root, "examples/pool-worker.ts")] }
export const pythonWorker = { command: "python3", args: [path.join(root, "examples/python/pool_worker.py")] }

/** Waits until the pool has `n` ready workers. */
export const readyWorkers = (pool: Pool, n: number, ms = 20_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (pool.view().ready < n) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`only ${pool.view().ready} of ${n} workers ready`))
      yield* Effect.sleep(5)
    }
  })
