/**
 * The wrappers tests share: an `it.live` test whose body runs scoped with a
 * quiet logger, optionally in a fresh temporary folder that is removed
 * afterwards whatever happens; and the lines of a process's output.
 */
import { it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import * as fs from "node:fs"
import { tempDir } from "./serfs.ts"

/** No log lines (the components under test log; the tests look at what they return). */
export const quiet = Logger.layer([])

/** `it.live`, the body scoped and quiet. */
export const live = <A, E>(name: string, body: () => Effect.Effect<A, E, any>, timeout?: number) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(quiet)) as Effect.Effect<A, E>, timeout)

/** `live`, with a fresh temporary folder (`prefix…`) removed when the test ends. */
export const liveIn = <A, E>(prefix: string) => (name: string, body: (dir: string) => Effect.Effect<A, E, any>, timeout?: number) =>
  it.live(name, () => {
    const dir = tempDir(prefix)
    return body(dir).pipe(
      Effect.scoped,
      Effect.provide(quiet),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    ) as Effect.Effect<A, E>
  }, timeout)

/** The non-empty lines of a text (a process's stdout or stderr). */
export const lines = (s: string) => s.split("\n").filter((l) => l !== "")
