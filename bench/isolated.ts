/**
 * Runs a bench case in a fresh Node process (`node SCRIPT case ARGS…`, whose
 * stdout is the result): lockstep latency is mostly the time to wake a
 * process blocked in epoll, so a process whose event loop something else
 * keeps busy looks faster; every variant gets the same clean start.
 */
import { spawn } from "node:child_process"

export const inOwnProcess = (script: string, args: ReadonlyArray<string | number>): Promise<string> =>
  new Promise((resolve, reject) => {
    const cp = spawn(process.execPath, [script, "case", ...args.map(String)], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    cp.stdout!.on("data", (d: Buffer) => (out += d))
    cp.on("exit", (code) => code === 0 ? resolve(out) : reject(new Error(`case ${args.join(" ")} exited ${code}`)))
  })

/** Each case of `names` in its own process, `rounds` times interleaved; the median of each (a number per case). */
export const medians = async (script: string, names: ReadonlyArray<string>, rounds = 3): Promise<(name: string) => number> => {
  const got = new Map<string, Array<number>>(names.map((v) => [v, []]))
  for (let r = 0; r < rounds; r++) for (const v of names) got.get(v)!.push(Number(await inOwnProcess(script, [v])))
  return (v: string) => got.get(v)!.sort((a, b) => a - b)[Math.floor(rounds / 2)]!
}
