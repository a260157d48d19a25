/**
 * SIGINT / SIGTERM to liege. The first asks the running subcommand to shut
 * down its own way (`run`: start the child's escalation; servers: drain);
 * a second one interrupts the program (finalizers still bound every
 * escalation).
 */
import { Context, Deferred, Effect } from "effect"

export class Shutdown extends Context.Service<Shutdown, {
  /** Completes with the signal's name when the first SIGINT or SIGTERM arrives. */
  readonly requested: Effect.Effect<NodeJS.Signals>
}>()("liege/cli/Shutdown") {}

export const makeShutdown = (onSecond: () => void) => {
  const requested = Deferred.makeUnsafe<NodeJS.Signals>()
  let count = 0
  const handler = (signal: NodeJS.Signals) => {
    count++
    if (count === 1) Deferred.doneUnsafe(requested, Effect.succeed(signal))
    else onSecond()
  }
  process.on("SIGINT", handler)
  process.on("SIGTERM", handler)
  return {
    service: Shutdown.of({ requested: Deferred.await(requested) }),
    uninstall: () => {
      process.off("SIGINT", handler)
      process.off("SIGTERM", handler)
    }
  }
}
