/**
 * A pool as an Effect program uses it (SPEC §11: several pools, each its
 * own service, in one program):
 *
 * - `make(options)`, with optional `request` and `response` Schemas: then
 *   `submit` takes the request's type and answers the response's, encoded
 *   and decoded at the edge (a value that does not fit is a `SchemaError`,
 *   nothing is sent); with an `error` Schema too, a worker's refusal
 *   (`err {code, message}`) that fits it is a typed failure. Without them
 *   the pool speaks `unknown`.
 * - `Service<Self>()(key, options)`: a class of its own, in Effect's style —
 *
 *       class Images extends Pool.Service<Images>()("Images", { command: "node", args: ["images.js"] }) {}
 *       const program = Effect.gen(function*() { const images = yield* Images; … })
 *       program.pipe(Effect.provide(Images.layer))
 *
 *   Two such classes are two services with two pools. Its `layer` is built
 *   once a worker is ready (`awaitReady`, default true) and fails at once
 *   if none will be: a command that cannot be spawned (`SpawnFailed`), or a
 *   pool that failed (`PoolFailed`).
 */
import { Context, Effect, Layer, Schema, type Scope, Stream } from "effect"
import type { InvalidOptions } from "../errors.ts"
import type { SpawnFailed } from "../supervisor/errors.ts"
import type { Application, PoolError, PoolFailed } from "./errors.ts"
import type { PoolOptions } from "./options.ts"
import { make as makePool, type Pool, type PoolHooks, type StreamOptions, type StreamPart } from "./pool.ts"

/** The options a pool is made with (every field but `command` optional). */
export type PoolInput = Schema.Codec.Encoded<typeof PoolOptions> | PoolOptions

/**
 * Schemas for a pool's requests and answers, and optionally its refusals:
 * `error` decodes a worker's `err` (`{code, message}`) into a typed
 * failure; an `err` it does not fit stays an `Application` error.
 */
export interface Schemas<I, O, E = never> {
  readonly request: Schema.Codec<I, unknown>
  readonly response: Schema.Codec<O, unknown>
  readonly error?: Schema.Codec<E, unknown> | undefined
}

/** A pool whose requests, answers (and refusals) are typed by Schemas. */
export interface TypedPool<I, O, E = never> extends Omit<Pool, "submit" | "stream"> {
  readonly submit: (payload: I) => Effect.Effect<O, E | PoolError | Schema.SchemaError>
  /** Streams the request's answer: the chunks as they come (not decoded), then the decoded answer. */
  readonly stream: (payload: I, options?: StreamOptions) => Stream.Stream<StreamPart, E | PoolError | Schema.SchemaError>
}

/** The pool the options make: typed when they carry `request` and `response` Schemas. */
export type PoolOf<Options> = Options extends { readonly request: Schema.Codec<infer I, any>; readonly response: Schema.Codec<infer O, any> }
  ? TypedPool<I, O, Options extends { readonly error: Schema.Codec<infer E, any> } ? E : never>
  : Pool

const typed = <I, O, E>(pool: Pool, schemas: Schemas<I, O, E>): TypedPool<I, O, E> => {
  const encode = Schema.encodeEffect(schemas.request)
  const decode = Schema.decodeUnknownEffect(schemas.response)
  const decodeError = schemas.error === undefined ? undefined : Schema.decodeUnknownEffect(schemas.error)
  /** A worker's `err` as the `error` Schema reads it; one it does not fit stays what it was. */
  const refusal = <A, R>(self: Effect.Effect<A, PoolError | Schema.SchemaError, R>): Effect.Effect<A, E | PoolError | Schema.SchemaError, R> =>
    decodeError === undefined ? self : Effect.catchTag(self, "Application", (app) =>
      Effect.flatMap(
        Effect.option(decodeError({ code: app.code, message: app.message })),
        (decoded): Effect.Effect<never, E | Application> => decoded._tag === "Some" ? Effect.fail(decoded.value) : Effect.fail(app)
      ))
  return {
    ...pool,
    submit: (payload) => refusal(Effect.flatMap(encode(payload), (encoded) => Effect.flatMap(pool.submit(encoded), decode))),
    stream: (payload, options) =>
      Stream.unwrap(Effect.map(encode(payload), (encoded) =>
        Stream.mapEffect(pool.stream(encoded, options), (part) =>
          part._tag === "Chunk" ? Effect.succeed(part) : Effect.map(decode(part.value), (value): StreamPart => ({ _tag: "Done", value }))).pipe(
            Stream.catchTag("Application", (app) =>
              Stream.fromEffect(refusal(Effect.fail(app)))
            )
          )))
  }
}

/** A pool for the scope's lifetime (SPEC §5); typed when `options` carry `request` and `response` Schemas. */
export const make = <const Options extends PoolInput & Partial<Schemas<any, any, any>>>(
  options: Options,
  hooks?: PoolHooks
): Effect.Effect<PoolOf<Options>, InvalidOptions, Scope.Scope> =>
  Effect.map(makePool(options, hooks), (pool) =>
    (options.request !== undefined && options.response !== undefined
      ? typed(pool, { request: options.request, response: options.response, error: options.error })
      : pool) as PoolOf<Options>)

export interface ServiceOptions {
  /** Build the layer once a worker is ready, and fail it if none will be (default true). */
  readonly awaitReady?: boolean | undefined
}

/** The pool `options` make, once a worker is ready unless `awaitReady: false` (the layers' pool). */
export const readyPool = <const Options extends PoolInput & Partial<Schemas<any, any, any>> & ServiceOptions>(
  options: Options
): Effect.Effect<PoolOf<Options>, InvalidOptions | PoolFailed | SpawnFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const pool = yield* make(options)
    if (options.awaitReady !== false) yield* (pool as Pool).whenReady
    return pool
  })

/** A pool as a service class of its own (see the top of this file). */
export const Service = <Self>() =>
<const Key extends string, const Options extends PoolInput & Partial<Schemas<any, any, any>> & ServiceOptions>(key: Key, options: Options): Context.ServiceClass<Self, Key, PoolOf<Options>> & { readonly layer: Layer.Layer<Self, InvalidOptions | PoolFailed | SpawnFailed> } => {
  const Tag = Context.Service<Self, PoolOf<Options>>()(key)
  const layer: Layer.Layer<Self, InvalidOptions | PoolFailed | SpawnFailed> = Layer.effect(
    Tag,
    Effect.map(readyPool(options), (pool) => pool as PoolOf<Options>)
  )
  return class extends Tag {
    /** The pool, for the layer's lifetime. */
    static readonly layer = layer
  }
}
