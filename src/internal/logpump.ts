/**
 * Hands log lines that arrive from callbacks (a child's stderr, `slog`
 * frames) to the Effect logger, without blocking the producer and without
 * buffering without bound: one fiber per pump drains a dropping queue and
 * reports how many lines it had to drop. Lines left at scope close are logged
 * by the finalizer.
 */
import { Effect, Queue } from "effect"
import type { Scope } from "effect"
import type { Severity } from "effect/LogLevel"

export interface LogPump {
  readonly line: (level: Severity, message: string) => void
}

interface Entry {
  readonly level: Severity
  readonly message: string
}

const CAPACITY = 10_000

export const makeLogPump = (annotations: Record<string, unknown>): Effect.Effect<LogPump, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.make<Entry>({ capacity: CAPACITY, strategy: "dropping" })
    let dropped = 0
    const write = (entries: ReadonlyArray<Entry>) =>
      Effect.gen(function*() {
        for (const entry of entries) yield* Effect.logWithLevel(entry.level)(entry.message)
        if (dropped > 0) {
          const n = dropped
          dropped = 0
          yield* Effect.logWarning(`dropped ${n} log lines: the logger could not keep up`)
        }
      }).pipe(Effect.annotateLogs(annotations))
    yield* Effect.forever(Effect.flatMap(Queue.takeAll(queue), write)).pipe(
      Effect.forkScoped,
      Effect.andThen(Effect.addFinalizer(() => Effect.flatMap(Queue.clear(queue), write)))
    )
    return {
      line: (level, message) => {
        if (!Queue.offerUnsafe(queue, { level, message })) dropped++
      }
    }
  })
