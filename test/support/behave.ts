import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Behaviour } from "../fixtures/behave.ts"
import { fixture, node } from "./procs.ts"

export type { Behaviour }

export interface Report {
  readonly pid?: number
  readonly grandchild?: number
  readonly signals: ReadonlyArray<string>
  readonly stdinEnded: boolean
  readonly ready: boolean
}

let counter = 0
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "liege-behave-"))

/** Spawn options for the behaving fixture, and a reader for its report. */
export const behaving = (b: Behaviour) => {
  const file = path.join(dir, `${process.pid}-${counter++}.jsonl`)
  fs.writeFileSync(file, "")
  return {
    command: node,
    args: [fixture("behave.ts"), JSON.stringify(b), file],
    report: (): Report => {
      const events = fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))
      const pick = (k: string) => events.find((e) => k in e)?.[k]
      return {
        pid: pick("pid"),
        grandchild: pick("grandchild"),
        signals: events.filter((e) => "signal" in e).map((e) => e.signal),
        stdinEnded: events.some((e) => "stdin" in e),
        ready: events.some((e) => "ready" in e)
      }
    }
  }
}
