/**
 * Signals to liege. SIGINT / SIGTERM: the first asks the running subcommand
 * to shut down its own way (`run`: start the child's escalation; servers:
 * drain); a second one interrupts the program (finalizers still bound every
 * escalation). SIGHUP goes to whoever listens for it (`onHangup`: the
 * servers, which log it); with nobody listening (`liege run`) it asks for a
 * shutdown like SIGTERM — it never kills liege on the spot.
 */
import { Context, Deferred, Effect, type Scope } from "effect"

export class Shutdown extends Context.Service<Shutdown, {
  /** Completes with the signal's name when the first SIGINT or SIGTERM arrives. */
  readonly requested: Effect.Effect<NodeJS.Signals>
  /** Calls `f` at every SIGHUP for the scope's lifetime (SIGHUP then is not a shutdown). */
  readonly onHangup: (f: () => void) => Effect.Effect<void, never, Scope.Scope>
}>()("liege/cli/Shutdown") {}

export const makeShutdown = (onSecond: () => void) => {
  const requested = Deferred.makeUnsafe<NodeJS.Signals>()
  const hangups = new Set<() => void>()
  let count = 0
  const handler = (signal: NodeJS.Signals) => {
    count++
    if (count === 1) Deferred.doneUnsafe(requested, Effect.succeed(signal))
    else onSecond()
  }
  const hangupHandler = () => {
    if (hangups.size === 0) return handler("SIGHUP")
    for (const f of hangups) f()
  }
  const onHangup = (f: () => void) =>
    Effect.acquireRelease(Effect.sync(() => hangups.add(f)), () => Effect.sync(() => hangups.delete(f)))
  process.on("SIGINT", handler)
  process.on("SIGTERM", handler)
  process.on("SIGHUP", hangupHandler)
  return {
    // installed for the rest of the process's life: liege exits right after its program ends
    service: Shutdown.of({ requested: Deferred.await(requested), onHangup: (f) => Effect.asVoid(onHangup(f)) })
  }
}
