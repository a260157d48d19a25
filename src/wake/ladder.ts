/**
 * The wake ladder (SPEC §6): re-wake a consumer with backoff until it proves
 * it ran. A wake can be lost (the consumer was busy, the message raced its
 * shutdown); an order makes sure it is not:
 *
 *   confirm(wake, done): after `initialBackoff`, and then with the backoff
 *   doubling up to `cap`, call `wake` until `done` is true.
 *
 * There is no fixed budget: an order wakes until it is observed (or the
 * ladder shuts down). An order whose target already ran never wakes; orders
 * are independent; surplus wakes are harmless by contract (`wake` must be
 * idempotent). `shutdown` is idempotent and orders after it are dropped.
 * The ladder is owned by a Scope: closing it ends every order.
 */
import { Context, Duration, Effect, FiberSet, Layer, Schema, type Scope } from "effect"
import { decodeOptions, DurationInput, toMillis } from "../internal/options.ts"
import { InvalidOptions } from "../errors.ts"

export const WakeLadderOptions = Schema.Struct({
  /** The first wait before checking `done` (default 1 ms, at least 50 µs). */
  initialBackoff: Schema.optional(DurationInput),
  /** The longest wait between wakes (default 1 s). */
  cap: Schema.optional(DurationInput)
})

export interface WakeLadder {
  /** Registers an order (returns at once): wake until `done`. Dropped after `shutdown`. */
  readonly confirm: <E1, E2>(wake: Effect.Effect<void, E1>, done: Effect.Effect<boolean, E2>) => Effect.Effect<void>
  /** Ends every order and drops later ones; idempotent. */
  readonly shutdown: Effect.Effect<void>
  /** Orders still waking. */
  readonly pending: Effect.Effect<number>
}

const MIN_INITIAL = Duration.micros(50n)

export const make = (
  input: Schema.Codec.Encoded<typeof WakeLadderOptions> = {}
): Effect.Effect<WakeLadder, InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const options = yield* decodeOptions(WakeLadderOptions, input, (i) => new InvalidOptions(i))
    const initial = Duration.max(Duration.fromInputUnsafe(options.initialBackoff ?? 1), MIN_INITIAL)
    const cap = Duration.max(Duration.fromInputUnsafe(options.cap ?? 1000), initial)
    if (toMillis(cap) <= 0) return yield* new InvalidOptions({ field: "cap", reason: "must be positive" })
    const orders = yield* FiberSet.make<void, never>()
    let closed = false

    const order = <E1, E2>(wake: Effect.Effect<void, E1>, done: Effect.Effect<boolean, E2>) =>
      Effect.gen(function*() {
        let backoff = initial
        for (;;) {
          yield* Effect.sleep(backoff)
          // a failing check counts as "not yet": the order keeps going
          if (yield* Effect.orElseSucceed(done, () => false)) return
          yield* Effect.catchCause(wake, (cause) => Effect.logWarning("wake failed; will wake again", cause))
          backoff = Duration.min(Duration.times(backoff, 2), cap)
        }
      })

    return {
      confirm: (wake, done) =>
        Effect.suspend(() => closed ? Effect.void : Effect.asVoid(FiberSet.run(orders, order(wake, done)))),
      shutdown: Effect.suspend(() => {
        closed = true
        return FiberSet.clear(orders)
      }),
      pending: FiberSet.size(orders)
    } satisfies WakeLadder
  })

/** The ladder as a service: `WakeLadder.Service.layer(options)`. */
export class Service extends Context.Service<Service, WakeLadder>()("liege/wake/WakeLadder") {
  static readonly layer = (options: Schema.Codec.Encoded<typeof WakeLadderOptions> = {}) => Layer.effect(Service, make(options))
}
