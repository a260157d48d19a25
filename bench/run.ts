/**
 * `liege run true` against spawning `true` directly: whole-process wall time
 * (spawn to exit), median of N sequential runs each, same run.
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/liege.ts")

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const time = (cmd: string, args: ReadonlyArray<string>, n: number) => {
  spawnSync(cmd, args) // warm (compile cache, page cache)
  const ms: Array<number> = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const r = spawnSync(cmd, args, { stdio: "ignore" })
    ms.push(performance.now() - t0)
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`)
  }
  return median(ms)
}

export const runTrue = () => {
  const direct = time("true", [], 50)
  const liege = time(process.execPath, [bin, "run", "--", "true"], 15)
  return {
    bench: "liege-run-true",
    liegeMs: Number(liege.toFixed(1)),
    directMs: Number(direct.toFixed(2)),
    ratio: Number((liege / direct).toFixed(1))
  }
}

export const benches = [runTrue]
