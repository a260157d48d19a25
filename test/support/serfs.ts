import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
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
