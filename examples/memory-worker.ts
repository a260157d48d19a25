/**
 * An example pool worker whose memory lives in a child process, for
 * `maxMemoryMb` over the whole process group (SPEC §5):
 * `liege pool --max-memory-mb 200 -- node examples/memory-worker.ts`.
 *
 * Payloads:
 *   {"op":"hold","mb":n}   starts a child process in the worker's own process group that fills
 *                          n MiB (resident) and keeps them; ok {"pid": the child's pid, "mb": n}
 *                          once the child holds them. Each hold adds a child.
 *   {"op":"release"}       ends every holding child; ok {"released": how many} once they exited
 *   {"op":"pid"}           ok the worker's process id
 *   anything else          err {"code":"bad_request","message": what was wrong}
 *
 * A holding child lives until its stdin ends: when the worker releases it,
 * or when the worker exits, however it exits (the kernel closes the pipe).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { Fail, runWorker } from "../src/worker/pool.ts"

/** The child: fills n MiB (allocUnsafe, then written, so that every page is resident), says "held", waits for EOF. */
const HOLDER = `
const held = Buffer.allocUnsafe(Number(process.argv[1]) * 1048576).fill(1)
process.stdout.write("held\\n")
process.stdin.on("end", () => process.exit(held.length > 0 ? 0 : 1)).resume()
`

const holders = new Set<ChildProcess>()

const hold = (mb: number, signal: AbortSignal): Promise<{ pid: number; mb: number }> =>
  new Promise((resolve, reject) => {
    // not detached: the child stays in the worker's process group
    const child = spawn(process.execPath, ["-e", HOLDER, String(mb)], { stdio: ["pipe", "pipe", "inherit"] })
    holders.add(child)
    child.stdin.on("error", () => {})
    child.on("exit", (code, sig) => {
      holders.delete(child)
      reject(new Fail("hold_failed", `the holding child exited (${sig ?? code}) before it held ${mb} MiB`))
    })
    child.on("error", (e) => reject(new Fail("hold_failed", `could not start the holding child: ${e.message}`)))
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d
      if (out.includes("held\n")) resolve({ pid: child.pid!, mb })
    })
    signal.addEventListener("abort", () => child.stdin.end())
  })

const release = async (): Promise<{ released: number }> => {
  const all = [...holders]
  await Promise.all(all.map((child) =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done()
      child.once("exit", () => done())
      child.stdin!.end()
    })
  ))
  return { released: all.length }
}

runWorker((payload, { signal }) => {
  const p = (typeof payload === "object" && payload !== null ? payload : {}) as Record<string, unknown>
  switch (p["op"]) {
    case "hold": {
      const mb = p["mb"]
      if (typeof mb !== "number" || !Number.isInteger(mb) || mb < 1) {
        throw new Fail("bad_request", "the field \"mb\" of \"hold\" must be a positive integer")
      }
      return hold(mb, signal)
    }
    case "release":
      return release()
    case "pid":
      return process.pid
    default:
      throw new Fail("bad_request", `unknown op ${JSON.stringify(p["op"])}: expected one of hold, release, pid`)
  }
})
