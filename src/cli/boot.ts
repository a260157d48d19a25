/**
 * `--boot FILE` (SPEC §3): the boot events of a fresh pier, a JSON array of
 * `{wen, ev}`; a file that is missing or not that is a usage error (exit 2).
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"
import { Event } from "../serf/protocol.ts"
import { UsageError } from "./errors.ts"

const BootEvents = Schema.Array(Event)

export const readBoot = (file: string | undefined) =>
  Effect.gen(function*() {
    if (file === undefined) return undefined
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch (e) {
      return yield* new UsageError({ message: `--boot ${file}: ${(e as NodeJS.ErrnoException).code ?? e}` })
    }
    const parsed = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (e) => new UsageError({ message: `--boot ${file}: not JSON (${(e as Error).message})` })
    })
    return yield* Schema.decodeUnknownEffect(BootEvents)(parsed).pipe(
      Effect.mapError(() => new UsageError({ message: `--boot ${file}: expected a JSON array of {"wen": number, "ev": any}` }))
    )
  })

