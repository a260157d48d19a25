/**
 * Whether a runner still reaches its database (SPEC §9: a runner that
 * cannot reach it for longer than the shard lock expiry counts as lost).
 *
 * A probe (`SELECT 1`) at a time, on a connection of its own (a busy pool
 * is not a lost database), the next `everyMs` after the last one ended; the
 * database is lost when no probe succeeded for longer than `lostAfterMs`. A
 * probe is never timed out: one that hangs (its peer went silent) simply
 * leaves the last success to age, and a slow answer on a loaded machine
 * still counts when it comes (a timer could fire before an answer already
 * in hand). A connection that fails is replaced.
 *
 * The runner reads it where waiting would be wrong: a serf being let go
 * stops waiting for a log that cannot answer, and the runner's routes
 * answer 503 at once (and stop waiting for answers it cannot get) instead
 * of holding callers for a serf it cannot serve.
 */
import { Clock, Deferred, Duration, Effect, type Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"

export interface DatabaseWatch {
  /** No probe succeeded for longer than the limit. */
  readonly lost: () => boolean
  /** Milliseconds since the last probe that succeeded. */
  readonly silentMs: () => number
  /** Completes once the database is lost (at once if it is). */
  readonly whenLost: Effect.Effect<void>
  /**
   * Calls `f` once when the database is found lost (not if it is lost now:
   * ask `lost` first); returns what stops listening. Cheaper than racing
   * `whenLost` on a hot path.
   */
  readonly onLost: (f: () => void) => () => void
}

export const watchDatabase = (options: { readonly everyMs: number; readonly lostAfterMs: number }): Effect.Effect<DatabaseWatch, never, SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const clock = yield* Clock.Clock
    let lastOk = clock.currentTimeMillisUnsafe()
    /** Done while the database is lost; a fresh one once it answers again. */
    let signal = Deferred.makeUnsafe<void>()
    let listeners = new Set<() => void>()
    const silentMs = () => clock.currentTimeMillisUnsafe() - lastOk
    const lost = () => silentMs() > options.lostAfterMs
    const every = Duration.millis(options.everyMs)
    const probing = Effect.scoped(Effect.gen(function*() {
      const conn = yield* sql.reserve
      for (;;) {
        yield* conn.executeRaw("SELECT 1", [])
        lastOk = clock.currentTimeMillisUnsafe()
        yield* Effect.sleep(every)
      }
    }))
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.ignore(probing), Effect.sleep(every))))
    // the signal follows the clock, not the probes (a probe may hang for minutes)
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(
      Effect.sync(() => {
        if (lost()) {
          Deferred.doneUnsafe(signal, Effect.void)
          if (listeners.size > 0) {
            const told = listeners
            listeners = new Set()
            for (const f of told) f()
          }
        } else if (Deferred.isDoneUnsafe(signal)) signal = Deferred.makeUnsafe<void>()
      }),
      Effect.sleep(Duration.millis(Math.max(50, options.everyMs / 2)))
    )))
    const onLost = (f: () => void) => {
      listeners.add(f)
      return () => {
        listeners.delete(f)
      }
    }
    return { lost, silentMs, whenLost: Effect.suspend(() => Deferred.await(signal)), onLost }
  })
