/**
 * RPC clients over pools as an Effect program uses them (SPEC §11): each
 * group on its pool, each its own service, side by side in one program.
 *
 *     class Maths extends RpcPool.Client<Maths>()("Maths", MathsRpcs, { command: "node", args: ["maths.js"] }) {}
 *     const program = Effect.gen(function*() { const maths = yield* Maths; yield* maths.Add({ a: 1, b: 2 }) })
 *     program.pipe(Effect.provide(Maths.layer))
 *
 * The layer starts the pool, waits for a ready worker (`awaitReady`, default
 * true: a command that cannot be spawned fails it with `SpawnFailed`, a pool
 * that fails first with `PoolFailed`), then makes the group's client on it.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { type Rpc, RpcClient, type RpcClientError, type RpcGroup } from "effect/rpc"
import { InvalidOptions } from "../errors.ts"
import type { PoolFailed } from "../pool/errors.ts"
import type { Pool, StreamOptions } from "../pool/pool.ts"
import { type PoolInput, readyPool, type ServiceOptions } from "../pool/service.ts"
import type { SpawnFailed } from "../supervisor/errors.ts"
import { makeProtocol } from "./protocol.ts"

export type ClientOptions = PoolInput & ServiceOptions & StreamOptions

/** The pool for a client: `credit` checked first (a whole number of RPC chunks, at least 1). */
const poolFor = (options: ClientOptions): Effect.Effect<Pool, InvalidOptions | PoolFailed | SpawnFailed, Scope.Scope> =>
  options.credit !== undefined && (!Number.isSafeInteger(options.credit) || options.credit < 1)
    ? Effect.fail(new InvalidOptions({ field: "credit", reason: `expected a whole number of chunks, at least 1, got ${options.credit}` }))
    : readyPool(options) as Effect.Effect<Pool, InvalidOptions | PoolFailed | SpawnFailed, Scope.Scope>

/** The client protocol over a new pool made from `options`, as a layer (for composing by hand). */
export const layerProtocol = (
  options: ClientOptions
): Layer.Layer<RpcClient.Protocol, InvalidOptions | PoolFailed | SpawnFailed> =>
  Layer.effect(RpcClient.Protocol)(Effect.flatMap(poolFor(options), (pool) => makeProtocol(pool, options)))

/** A group's client over a pool of its own, as a service class (see the top of this file). */
export const Client = <Self>() =>
<const Key extends string, Rpcs extends Rpc.Any>(key: Key, group: RpcGroup.RpcGroup<Rpcs>, options: ClientOptions): Context.ServiceClass<Self, Key, RpcClient.RpcClient<Rpcs, RpcClientError.RpcClientError>> & { readonly layer: Layer.Layer<Self, InvalidOptions | PoolFailed | SpawnFailed, Rpc.MiddlewareClient<Rpcs>> } => {
  const Tag = Context.Service<Self, RpcClient.RpcClient<Rpcs, RpcClientError.RpcClientError>>()(key)
  const layer: Layer.Layer<Self, InvalidOptions | PoolFailed | SpawnFailed, Rpc.MiddlewareClient<Rpcs>> = Layer.effect(
    Tag,
    Effect.gen(function*() {
      const pool = yield* poolFor(options)
      const protocol = yield* makeProtocol(pool, { credit: options.credit, group })
      return yield* Effect.provideService(RpcClient.make(group), RpcClient.Protocol, protocol)
    })
  )
  return class extends Tag {
    /** The group's client, its pool for the layer's lifetime. */
    static readonly layer = layer
  }
}
