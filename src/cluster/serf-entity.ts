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
 * events logged before it started within `RESEND_WINDOW_MS` (read from the
 * log once it holds it).
 *
 * While it serves, an activation is also reachable without the cluster
 * (`SerfCounters.hosts`): a request taken by this runner for a serf running
 * here goes straight to the same poke — the same keys, the same answers —
 * with no message through the entity's mailbox (its caller keeps the entity
 * from going idle with a `Touch` now and then). It leaves that map as soon
 * as it is let go, before its pier stops: later requests take the cluster's
 * way, which finds the serf wherever it is next.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Cause, Effect, Exit, FiberSet, type Scope } from "effect"
import { Entity, type ShardId } from "effect/cluster"
import type { Pier, PokeAnswer } from "../pier/pier.ts"
import type { KeyedEvent } from "./event-log.ts"
import { plainFields, type PokeReply, Refusal, Serf } from "./protocol.ts"

const KEEP = 100_000

/**
 * How old (by its `wen`) a logged event can be and still be sent again: a
 * re-send comes while its caller waits (at most 30 s, ../http/cluster.ts
 * `ANSWER_TIMEOUT`); the rest is room for the runners' clocks to differ.
 * Older keyed events are not read at an activation.
 */
export const RESEND_WINDOW_MS = 5 * 60_000

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
  /** Opens the serf `id` with its log, in the activation's scope; with the keyed events logged before (the last `keep`, from `since` on). */
  readonly open: (id: string, dir: string, keep: number, since: number) => Effect.Effect<
    { readonly pier: Pier; readonly keyed: ReadonlyArray<KeyedEvent> },
    { readonly _tag: string; readonly message: string },
    Scope.Scope | R
  >
  /** Counters for /metrics. */
  readonly counters: SerfCounters
  /** This runner's HTTP address, told with every answer (./forward.ts). */
  readonly url?: string | undefined
  /**
   * Completes when this runner has lost its database (./watch.ts): a serf
   * being let go stops waiting for its log at once (its callers get 503
   * instead of waiting out the drain for commits that cannot be confirmed).
   */
  readonly lostDatabase?: Effect.Effect<void>
}

/** A serf running on this runner, as its requests reach it without the cluster. */
export interface LocalSerf {
  /**
   * The poke, as the entity's `Poke` does it (`value`: the event `ev`
   * parsed, when the caller has it). `done` is called once with its answer;
   * the returned function stops listening (the serf's work goes on).
   */
  readonly poke: (key: string, ev: string, value: unknown, done: (exit: Exit.Exit<PokeReply, Refusal>) => void) => () => void
  /** False while it is unusable here (its log was claimed elsewhere): its requests take the cluster's way. */
  readonly usable: () => boolean
  /** When its caller last told the entity it is in use (a `Touch`), on its clock. */
  touchedAt: number
  /** Its shard (whether this runner still owns it is the caller's to ask). */
  readonly shardId: ShardId.ShardId
}

export interface SerfCounters {
  /** The serfs running here, by id. */
  readonly piers: Map<string, Pier>
  /** The serfs serving here, by id, until they are let go. */
  readonly hosts: Map<string, LocalSerf>
  active: number
  activations: number
  replays: number
  commits: number
  refused: number
}

export const makeCounters = (): SerfCounters => ({ piers: new Map(), hosts: new Map(), active: 0, activations: 0, replays: 0, commits: 0, refused: 0 })

export const refusal = (e: { readonly _tag: string; readonly message: string }) =>
  new Refusal({ tag: e._tag, message: e.message, fields: plainFields(e) })

const reply = (runner: string, url: string | undefined, answer: PokeAnswer): Exit.Exit<PokeReply, Refusal> => {
  if (answer._tag === "Bail") {
    return Exit.fail(new Refusal({ tag: "Bail", message: "the serf refused the event", goofs: JSON.stringify(answer.goofs) }))
  }
  return Exit.succeed({
    eve: answer.eve,
    mug: answer.mug,
    effects: JSON.stringify(answer.effects),
    ...(answer._tag === "Swap" ? { swapped: JSON.stringify(answer.ev) } : {}),
    runner,
    ...(url === undefined ? {} : { url })
  })
}

/** One poke's answer, once known, to everyone waiting for it (the first caller and re-sends of its key). */
class Answer {
  exit: Exit.Exit<PokeReply, Refusal> | undefined = undefined
  private waiters: Array<(exit: Exit.Exit<PokeReply, Refusal>) => void> = []

  done(exit: Exit.Exit<PokeReply, Refusal>): void {
    if (this.exit !== undefined) return
    this.exit = exit
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w(exit)
  }

  /** Calls `f` with the answer (at once if known); returns what stops listening. */
  observe(f: (exit: Exit.Exit<PokeReply, Refusal>) => void): () => void {
    if (this.exit !== undefined) {
      f(this.exit)
      return () => {}
    }
    this.waiters.push(f)
    return () => {
      const i = this.waiters.indexOf(f)
      if (i >= 0) this.waiters.splice(i, 1)
    }
  }
}

export const layer = <R>(options: SerfHostOptions<R>) =>
  Serf.toLayer(
    Effect.gen(function*() {
      const { entityId: id, shardId } = yield* Entity.CurrentAddress
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
      const opened = yield* Effect.exit(options.open(id, dir, KEEP, Date.now() - RESEND_WINDOW_MS))
      if (Exit.isFailure(opened)) {
        // it could not start here (its log refused it, a replay diverged): say so to every caller
        // for a while, then try again
        const cause = opened.cause
        const failure = new Refusal({ tag: "SerfUnavailable", message: `serf ${id} could not start: ${String(cause).split("\n")[0]}` })
        yield* Effect.logError(`serf ${id} could not start`, cause)
        downSince = Date.now()
        const refuse = serving(Effect.fail(failure), failure)
        return Serf.of({ Poke: () => refuse, Peek: () => refuse, Snapshot: () => refuse, Pack: () => refuse, Touch: () => Effect.void })
      }
      const { pier, keyed } = opened.value
      counters.active++
      counters.piers.set(id, pier)
      // set below, once its poke is made
      let host: LocalSerf | undefined
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => {
          // let go (idle, or its shard moved, or this runner lost its database or is leaving): no
          // request reaches it any more but through the cluster; it answers what it holds, saves,
          // and stops the serf
          if (host !== undefined && counters.hosts.get(id) === host) counters.hosts.delete(id)
          return Effect.andThen(
            pier.shutdown(options.drainMs, options.lostDatabase),
            Effect.sync(() => {
              counters.active--
              if (counters.piers.get(id) === pier) counters.piers.delete(id)
            })
          )
        })
      )

      const answers = new Map<string, Answer>()
      const logged = new Map<string, KeyedEvent>()
      for (const k of keyed) logged.set(k.key, k)
      /** A poke logged before this activation: its answer from the log (a swap if the logged event is another). */
      const fromLog = (k: KeyedEvent, ev: string): PokeReply => ({
        eve: k.eve,
        mug: k.mug ?? 0,
        effects: k.fec ?? "[]",
        ...(k.ev === ev ? {} : { swapped: k.ev }),
        runner,
        ...(options.url === undefined ? {} : { url: options.url })
      })
      /** Runs the pier's work in the activation's fibers (its own, not a caller's). */
      const runPoke = yield* FiberSet.runtime(pokes)<never>()
      const start = (key: string, ev: string, value: unknown, done: (exit: Exit.Exit<PokeReply, Refusal>) => void): () => void => {
        const known = answers.get(key)
        if (known !== undefined) return known.observe(done)
        const before = logged.get(key)
        if (before !== undefined) {
          done(Exit.succeed(fromLog(before, ev)))
          return () => {}
        }
        const answer = new Answer()
        answers.set(key, answer)
        if (answers.size > KEEP) answers.delete(answers.keys().next().value!)
        const stop = answer.observe(done)
        // the pier's work is the activation's, not the caller's: a caller that goes away does not
        // cut it off (the event may be logged), and a re-send of its key finds its answer here
        runPoke(
          Effect.onExit(pier.poke(value === undefined ? JSON.parse(ev) as unknown : value, ev, key), (result) =>
            Effect.sync(() => {
              // a failure (a bail too) stays known with its key: a second delivery of the event (the
              // cluster's re-send, or the cluster's way after a forward that failed, ./forward.ts) gets
              // the same answer, rather than being tried again
              if (Exit.isSuccess(result)) {
                const exit = reply(runner, options.url, result.value)
                if (Exit.isFailure(exit)) counters.refused++
                return answer.done(exit)
              }
              if (Cause.hasInterruptsOnly(result.cause)) {
                // let go before it was answered: not logged; a re-send goes to its next activation
                answers.delete(key)
                return answer.done(Exit.fail(new Refusal({ tag: "ShuttingDown", message: `serf ${id} is being let go here` })))
              }
              counters.refused++
              const error = Cause.findErrorOption(result.cause)
              if (error._tag === "None") return answer.done(Exit.die(Cause.squash(result.cause)))
              if (error.value._tag === "PierFenced") downSince ??= Date.now()
              answer.done(Exit.fail(refusal(error.value)))
            }))
        )
        return stop
      }
      const poke = (key: string, ev: string): Effect.Effect<PokeReply, Refusal> =>
        Effect.callback<PokeReply, Refusal>((resume) => {
          const stop = start(key, ev, undefined, resume)
          return Effect.sync(stop)
        })
      // (while its log is claimed elsewhere, requests take the cluster's way: refused, then the entity restarted)
      host = { poke: start, usable: () => downSince === undefined, touchedAt: 0, shardId }
      counters.hosts.set(id, host)

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
        Pack: () => serving(Effect.mapError(pier.pack, refusal), undefined),
        // a request served here without the cluster: the entity is in use
        Touch: () => Effect.void
      })
    }),
    { maxIdleTime: options.idleMs, concurrency: "unbounded" }
  )
