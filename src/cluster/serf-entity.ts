/**
 * A serf entity (SPEC §9): while its shard is on this runner, the serf runs
 * here — started, replayed from its log, then serving. Activated by its
 * first message; `idle` later (or when its shard moves) it is saved,
 * stopped and let go.
 *
 * Pokes carry a key (see ./protocol.ts), logged with the event and its
 * effects. A poke whose key is known gets the first one's answer instead of
 * being logged again: the cluster re-sends requests that were in flight on a
 * runner that died, and such an event may be in the log already, logged by
 * that runner just before it died. Known keys: those this activation is
 * working on or answered (the last `KEEP`), and those of the last `KEEP`
 * events logged before it started (read from the log once it holds it).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Cause, Deferred, Effect, Exit, FiberSet, type Scope } from "effect"
import { Entity } from "effect/cluster"
import type { Pier, PokeAnswer, PokeError } from "../pier/pier.ts"
import type { KeyedEvent } from "./event-log.ts"
import { plainFields, PokeReply, Refusal, Serf } from "./protocol.ts"

const KEEP = 100_000

/**
 * A serf that could not start here, or whose log was claimed by another
 * runner, answers 503 for this long (past the runners' lock expiry, 2 s, so
 * that a runner which lost its shard learns it and lets the serf go). If it
 * is still here then, the next request restarts it (the cluster's own
 * restart of an entity that died), which opens and claims its log again.
 */
const DOWN_MS = 5_000

export interface SerfHostOptions<R> {
  /** The folder that holds each serf's own folder (`DIR/ID`: its snapshots, `LIEGE_PIER`). */
  readonly data: string
  readonly idleMs: number
  readonly drainMs: number
  /** Opens the serf `id` with its log, in the activation's scope; with the keyed events logged before. */
  readonly open: (id: string, dir: string, keep: number) => Effect.Effect<
    { readonly pier: Pier; readonly keyed: ReadonlyArray<KeyedEvent> },
    { readonly _tag: string; readonly message: string },
    Scope.Scope | R
  >
  /** Counters for /metrics. */
  readonly counters: SerfCounters
  /**
   * Completes when this runner has lost its database (./watch.ts): a serf
   * being let go stops waiting for its log at once (its callers get 503
   * instead of waiting out the drain for commits that cannot be confirmed).
   */
  readonly lostDatabase?: Effect.Effect<void>
}

export interface SerfCounters {
  /** The serfs running here, by id. */
  readonly piers: Map<string, Pier>
  active: number
  activations: number
  replays: number
  commits: number
  refused: number
}

export const makeCounters = (): SerfCounters => ({ piers: new Map(), active: 0, activations: 0, replays: 0, commits: 0, refused: 0 })

export const refusal = (e: { readonly _tag: string; readonly message: string }) =>
  new Refusal({ tag: e._tag, message: e.message, fields: plainFields(e) })

const reply = (runner: string) => (answer: PokeAnswer): Effect.Effect<PokeReply, Refusal> => {
  if (answer._tag === "Bail") {
    return Effect.fail(new Refusal({ tag: "Bail", message: "the serf refused the event", goofs: JSON.stringify(answer.goofs) }))
  }
  return Effect.succeed({
    eve: answer.eve,
    mug: answer.mug,
    effects: JSON.stringify(answer.effects),
    ...(answer._tag === "Swap" ? { swapped: JSON.stringify(answer.ev) } : {}),
    runner
  })
}

export const layer = <R>(options: SerfHostOptions<R>) =>
  Serf.toLayer(
    Effect.gen(function*() {
      const { entityId: id } = yield* Entity.CurrentAddress
      const here = yield* Entity.CurrentRunnerAddress
      const runner = `${here.host}:${here.port}`
      const { counters } = options
      const dir = path.join(options.data, id)
      fs.mkdirSync(dir, { recursive: true })
      counters.activations++
      /** When this activation found the serf unusable here (undefined: it is fine). */
      let downSince: number | undefined
      /** A request: refused while the serf is down, the entity's restart once it has been down for DOWN_MS. */
      const serving = <A>(handle: Effect.Effect<A, Refusal>, down: Refusal | undefined): Effect.Effect<A, Refusal> =>
        Effect.suspend(() => {
          if (downSince === undefined) return handle
          if (Date.now() - downSince < DOWN_MS) return Effect.fail(down ?? new Refusal({ tag: "SerfUnavailable", message: `serf ${id} lost its log to another runner; it is starting again` }))
          return Effect.die(new Error(`serf ${id} is started again here: it has been unusable for ${DOWN_MS} ms`))
        })
      // the pokes under way: made before the pier, so closed after it (its shutdown answers them first)
      const pokes = yield* FiberSet.make<void>()
      const opened = yield* Effect.exit(options.open(id, dir, KEEP))
      if (Exit.isFailure(opened)) {
        // it could not start here (its log refused it, a replay diverged): say so to every caller
        // for a while, then try again
        const cause = opened.cause
        const failure = new Refusal({ tag: "SerfUnavailable", message: `serf ${id} could not start: ${String(cause).split("\n")[0]}` })
        yield* Effect.logError(`serf ${id} could not start`, cause)
        downSince = Date.now()
        const refuse = serving(Effect.fail(failure), failure)
        return Serf.of({ Poke: () => refuse, Peek: () => refuse, Snapshot: () => refuse, Pack: () => refuse })
      }
      const { pier, keyed } = opened.value
      counters.active++
      counters.piers.set(id, pier)
      yield* Effect.addFinalizer(() =>
        // let go (idle, or its shard moved, or this runner lost its database or is leaving):
        // answer what it holds, save, stop the serf
        Effect.andThen(
          pier.shutdown(options.drainMs, options.lostDatabase),
          Effect.sync(() => {
            counters.active--
            if (counters.piers.get(id) === pier) counters.piers.delete(id)
          })
        )
      )

      const answers = new Map<string, Deferred.Deferred<PokeReply, Refusal>>()
      const logged = new Map<string, KeyedEvent>()
      for (const k of keyed) logged.set(k.key, k)
      /** A poke logged before this activation: its answer from the log (a swap if the logged event is another). */
      const fromLog = (k: KeyedEvent, ev: string): PokeReply => ({
        eve: k.eve,
        mug: k.mug ?? 0,
        effects: k.fec ?? "[]",
        ...(k.ev === ev ? {} : { swapped: k.ev }),
        runner
      })
      const poke = (key: string, ev: string) =>
        Effect.gen(function*() {
          const known = answers.get(key)
          if (known !== undefined) return yield* Deferred.await(known)
          const before = logged.get(key)
          if (before !== undefined) return fromLog(before, ev)
          const answer = Deferred.makeUnsafe<PokeReply, Refusal>()
          answers.set(key, answer)
          if (answers.size > KEEP) answers.delete(answers.keys().next().value!)
          // the pier's work is the activation's, not the caller's: a caller that goes away does not
          // cut it off (the event may be logged), and a re-send of its key finds its answer here
          yield* FiberSet.run(
            pokes,
            Effect.exit(
              pier.poke(JSON.parse(ev) as unknown, ev, key).pipe(
                Effect.mapError((e: PokeError) => refusal(e)),
                Effect.flatMap(reply(runner))
              )
            ).pipe(Effect.flatMap((result) =>
              Effect.sync(() => {
                if (Exit.isFailure(result)) {
                  counters.refused++
                  // a failure was not logged: a re-send may try again
                  answers.delete(key)
                  const error = Cause.findErrorOption(result.cause)
                  if (error._tag === "Some" && error.value.tag === "PierFenced") downSince ??= Date.now()
                }
                Deferred.doneUnsafe(answer, result)
              })
            ), Effect.onInterrupt(() => Effect.sync(() => {
              answers.delete(key)
              Deferred.doneUnsafe(answer, Exit.fail(new Refusal({ tag: "ShuttingDown", message: `serf ${id} is being let go here` })))
            })))
          )
          return yield* Deferred.await(answer)
        })

      return Serf.of({
        Poke: ({ payload }) => serving(poke(payload.key, payload.ev), undefined),
        Peek: ({ payload }) =>
          serving(
            pier.peek(payload.path).pipe(
              Effect.map((dat) => JSON.stringify(dat ?? null)),
              Effect.mapError(refusal)
            ),
            undefined
          ),
        Snapshot: () => serving(Effect.mapError(pier.snapshot, refusal), undefined),
        Pack: () => serving(Effect.mapError(pier.pack, refusal), undefined)
      })
    }),
    { maxIdleTime: options.idleMs, concurrency: "unbounded" }
  )
