/**
 * `liege cluster serf` and `liege cluster pool` (SPEC §9): one runner of a
 * cluster on `effect/cluster`, with PostgreSQL (`--database`,
 * `LIEGE_DATABASE` or the `PG*` variables) holding the cluster's state, the
 * serfs' logs and the session jobs.
 *
 * The start and the leaving are ./runner-life.ts's: nothing is spawned for
 * a runner that cannot run; on SIGTERM/SIGINT it stops taking requests,
 * leaves the cluster (its serfs are saved and stopped, its sessions let go:
 * other runners take them over) and exits, within `--drain` plus its
 * escalation windows plus the shard lock expiry, whatever the engine is
 * doing. A runner that loses its database for longer than the lock expiry
 * answers its serf routes 503 at once (and /healthz 503) until it is back.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Cause, Duration, Effect, Exit, type Fiber, FiberSet, Layer } from "effect"
import { ShardId } from "effect/cluster"
import { Sharding } from "effect/cluster/Sharding"
import * as Runner from "../cluster/runner.ts"
import * as SerfEntity from "../cluster/serf-entity.ts"
import * as SessionEntity from "../cluster/session-entity.ts"
import { makeJobStore } from "../cluster/index.ts"
import { type Forwarded, type ForwardItem, makeForwarder } from "../cluster/forward.ts"
import { type PokeReply, Refusal, Serf, Session } from "../cluster/protocol.ts"
import { checkJson } from "../http/body.ts"
import { ANSWER_TIMEOUT, answerTimedOut, runnerMetrics, serfRoutes } from "../http/cluster.ts"
import { jobRoutes } from "../http/pool.ts"
import { answerOf } from "../http/errors.ts"
import { claim } from "../cluster/event-log.ts"
import { pierLog } from "../cluster/pier-log.ts"
import { fileLeftover, reap } from "../pier/leftover.ts"
import { openWith } from "../pier/pier.ts"
import { make as makePool } from "../pool/pool.ts"
import { notReady, Ready, type RunnerStatus } from "../status/document.ts"
import type { Parsed } from "./args.ts"
import { readBoot } from "./boot.ts"
import { pierOptions, poolOptions } from "./options.ts"
import { Spans, traced } from "./tracing.ts"
import type { clusterPool, clusterSerf } from "./commands.ts"
import { ExitStatus } from "./errors.ts"
import { isAlive } from "../supervisor/group.ts"
import { awaitShutdown, joinFailed, startRunner } from "./runner-life.ts"

const noop = () => {}

const SHARDS = 300
const unjoined = "the runner has not joined the cluster yet (it owns no shards)"
const lostDatabase = "this runner cannot reach its database: its serfs are served by the other runners"

/** How many times a request is sent again when the serf was let go before it answered. */
const RESENDS = 5

/**
 * A request to a serf, sent again when its answer is an interruption: the
 * runner that held the serf let it go before it answered (it lost the
 * serf's shard or its database, or the connection to it dropped), and the
 * serf is moving. A poke keeps its key, so a re-sent event that was logged
 * is answered from the log, never logged twice; the others only read or
 * save.
 */
const resend = <A, E>(call: Effect.Effect<A, E>, left: number): Effect.Effect<A, E> =>
  Effect.catchCause(call, (cause) =>
    left > 0 && Cause.hasInterruptsOnly(cause)
      ? Effect.andThen(Effect.sleep(Runner.timing.sendRetryInterval), resend(call, left - 1))
      : Effect.failCause(cause))

/** `http://HOST:PORT` as other machines reach it: an unspecified bound address (0.0.0.0, ::) is the runner's host. */
const advertised = (bound: string, runnerHost: string): string => {
  const u = new URL(bound)
  if (u.hostname === "0.0.0.0" || u.hostname === "[::]") u.hostname = runnerHost.includes(":") ? `[${runnerHost}]` : runnerHost
  return u.origin
}

/** Counts the shards this runner owns. */
const ownedShards = (sharding: Sharding["Service"]) => () => {
  let n = 0
  for (let i = 1; i <= SHARDS; i++) if (sharding.hasShardId(ShardId.make("default", i))) n++
  return n
}

export const serfProgram = ({ flags, command: [command, ...args] }: Parsed<typeof clusterSerf.flags>) =>
  traced(Effect.scoped(Effect.gen(function*() {
    const spans = yield* Spans
    const boot = yield* readBoot(flags.boot)
    const { server, db, engine, watch, leave } = yield* startRunner(flags)
    const counters = SerfEntity.makeCounters()
    fs.mkdirSync(flags.data, { recursive: true })
    // serfs a killed runner left running in --data are reaped before this one starts any
    for (const entry of fs.readdirSync(flags.data, { withFileTypes: true })) {
      if (entry.isDirectory()) yield* Effect.ignore(reap(fileLeftover(path.join(flags.data, entry.name))))
    }
    // this runner's HTTP address as the others reach it (told with every answer: ../cluster/forward.ts)
    const url = advertised(server.url, flags.runner.host)
    const entities = SerfEntity.layer({
      data: flags.data,
      url,
      idleMs: flags.idle,
      drainMs: flags.drain,
      counters,
      lostDatabase: watch.whenLost,
      open: (id, dir, keep, since) =>
        Effect.gen(function*() {
          const log = yield* claim(id)
          // this runner holds the log now: what its last writers logged is final
          const keyed = yield* log.keyed(Math.max(0, (yield* log.last) - keep), since)
          const pier = yield* openWith(pierLog(log, dir), { ...pierOptions(flags, dir, command!, args, boot), spans }, {
            onReplay: (r) => {
              if (r.done === 0 && r.total > 0) counters.replays++
            },
            onCommit: () => {
              counters.commits++
            }
          })
          return { pier, keyed }
        })
    })
    const runner = Runner.layer({ runner: flags.runner })
    const context = yield* Layer.buildWithScope(entities.pipe(Layer.provideMerge(runner), Layer.provideMerge(db)), engine).pipe(
      Effect.catchCause(joinFailed(flags.runner))
    )
    // (only now: a runner that cannot start says why in the one line it writes to stderr)
    yield* Effect.logInfo(`status page: ${server.url}/ui`)
    const sharding = yield* Effect.provide(Sharding, context)
    const clientFor = yield* Effect.provide(Serf.client, context)
    const shards = ownedShards(sharding)
    // a serf's shard, remembered (hashing its id on every request is not free)
    const shardIds = new Map<string, ShardId.ShardId>()
    const shardOf = (id: string): ShardId.ShardId => {
      let shard = shardIds.get(id)
      if (shard === undefined) {
        if (shardIds.size >= 100_000) shardIds.clear()
        shardIds.set(id, shard = sharding.getShardId(id as never, "default"))
      }
      return shard
    }
    const local = (id: string) => sharding.hasShardId(shardOf(id))
    // a runner without its database cannot serve a serf, nor learn where it went: 503 at once, and
    // a request under way when it loses it is answered 503 then, rather than waiting for a serf
    // that is no longer anywhere it knows of
    const unreachable = Effect.suspend(() =>
      Effect.fail(new Refusal({
        tag: "DatabaseUnreachable",
        message: `this runner has not reached its database for ${(watch.silentMs() / 1000).toFixed(1)} s: its serfs are served by the other runners; ask one of them`
      }))
    )
    const reach = <A>(e: Effect.Effect<A, unknown>): Effect.Effect<A, Refusal> =>
      Effect.suspend(() =>
        watch.lost() ? unreachable : Effect.raceFirst(
          Effect.mapError(resend(e, RESENDS), (err) =>
            err instanceof Refusal ? err : new Refusal({ tag: "SerfUnavailable", message: `the serf could not be reached: ${String((err as { message?: string }).message ?? err)}` })),
          Effect.andThen(watch.whenLost, unreachable)
        )
      )
    // a serf serving here is poked without the cluster (./serf-entity.ts `hosts`): its entity is
    // told it is in use (`Touch`) often enough that it does not go idle meanwhile
    const touchEvery = Math.max(50, flags.idle / 4)
    const runTouch = yield* FiberSet.makeRuntime<never>()
    const serving = (id: string): SerfEntity.LocalSerf | undefined => {
      const host = counters.hosts.get(id)
      if (host === undefined || !host.usable() || !sharding.hasShardId(host.shardId)) return undefined
      const now = Date.now()
      if (now - host.touchedAt >= touchEvery) {
        host.touchedAt = now
        runTouch(Effect.ignore(clientFor(id).Touch()))
      }
      return host
    }
    // events for a serf served by another runner go to it without the cluster once its answers
    // said where it is (../cluster/forward.ts); anything the shortcut cannot place goes the
    // cluster's way, with the same key
    const forwarder = makeForwarder({ self: url, token: flags.token, maxBody: flags.maxBody, probeMs: 1000, downMs: 10_000, batchesInFlight: 2 })
    yield* Effect.addFinalizer(() => Effect.sync(forwarder.close))
    const viaCluster = (id: string, key: string, ev: string) =>
      reach(clientFor(id).Poke({ key, ev })).pipe(
        Effect.timeoutOrElse({ duration: ANSWER_TIMEOUT, orElse: () => Effect.fail(answerTimedOut()) }),
        Effect.tap((r) => Effect.sync(() => forwarder.learn(id, r.url)))
      )
    const answerMs = Duration.toMillis(ANSWER_TIMEOUT)
    /**
     * A poke, the cheapest way there is: the serf serving here; else the
     * runner known to serve it (forwarded); else the cluster's way. Answered
     * within ANSWER_TIMEOUT, and 503 at once if this runner loses its
     * database meanwhile. Plain callbacks: no fiber of its own. `done` is
     * called once with the answer (an Exit, or the cluster's way, to run);
     * the function returned stops listening.
     */
    const pokeWith = (
      id: string,
      key: string,
      ev: string,
      value: unknown,
      done: (answer: Effect.Effect<PokeReply, Refusal>) => void
    ): (() => void) => {
      if (watch.lost()) {
        done(unreachable)
        return noop
      }
      let finished = false
      let stop = noop
      let off = noop
      let timer: ReturnType<typeof setTimeout> | undefined
      const finish = (answer: Effect.Effect<PokeReply, Refusal>) => {
        if (finished) return
        finished = true
        if (timer !== undefined) clearTimeout(timer)
        off()
        done(answer)
      }
      const host = serving(id)
      if (host !== undefined) stop = host.poke(key, ev, value, finish)
      else {
        const sent = forwarder.send(id, key, ev, (answer) => finish(answer === "elsewhere" ? viaCluster(id, key, ev) : answer))
        if (sent === undefined) {
          finish(viaCluster(id, key, ev))
          return noop
        }
        stop = sent
      }
      if (finished) return noop
      off = watch.onLost(() => {
        stop()
        finish(unreachable)
      })
      timer = setTimeout(() => {
        stop()
        finish(Effect.fail(answerTimedOut()))
      }, answerMs)
      return () => {
        finished = true
        if (timer !== undefined) clearTimeout(timer)
        off()
        stop()
      }
    }
    const poke = (id: string, key: string, ev: string, value: unknown): Effect.Effect<PokeReply, Refusal> =>
      Effect.callback<PokeReply, Refusal>((resume) => Effect.sync(pokeWith(id, key, ev, value, resume)))
    /** The same without the caller's fiber (the events route's direct path): the cluster's way runs as a fiber of the runner's. */
    const runPoke = yield* FiberSet.makeRuntime<never, PokeReply, Refusal>()
    const startPoke = (id: string, key: string, ev: string, value: unknown, done: (exit: Exit.Exit<PokeReply, Refusal>) => void) => {
      let fiber: Fiber.Fiber<PokeReply, Refusal> | undefined
      const stop = pokeWith(id, key, ev, value, (answer) => {
        if (Exit.isExit(answer)) return done(answer as Exit.Exit<PokeReply, Refusal>)
        fiber = runPoke(answer)
        fiber.addObserver(done)
      })
      return () => {
        stop()
        fiber?.interruptUnsafe()
      }
    }
    /** Events forwarded here: each poked as if taken here, or `elsewhere` when its serf is not serving here. */
    const accept = (items: ReadonlyArray<ForwardItem>, answer: (i: number, a: Forwarded) => void): () => void => {
      const told = new Array<boolean>(items.length).fill(false)
      let left = items.length
      const stops: Array<() => void> = []
      let off = () => {}
      const tell = (i: number, a: Forwarded) => {
        if (told[i]) return
        told[i] = true
        if (--left === 0) off()
        answer(i, a)
      }
      for (let i = 0; i < items.length; i++) {
        const { id, key, ev } = items[i]!
        const host = watch.lost() ? undefined : serving(id)
        if (host === undefined) {
          tell(i, "elsewhere")
          continue
        }
        const checked = checkJson(Buffer.from(ev), flags.maxDepth)
        if ("status" in checked) {
          tell(i, Exit.fail(new Refusal({ tag: "BadBody", message: "a forwarded event is not JSON liege takes" })))
          continue
        }
        stops.push(host.poke(key, ev, checked.value, (exit) => tell(i, exit)))
      }
      // this runner lost its database: what it has not answered goes the cluster's way
      if (left > 0) {
        off = watch.onLost(() => {
          for (let i = 0; i < items.length; i++) tell(i, "elsewhere")
        })
      }
      return () => {
        off()
        for (const stop of stops) stop()
      }
    }
    const forwarded = { count: 0 }
    const routes = serfRoutes({
      poke,
      start: startPoke,
      accept,
      peek: (id, p) => reach(clientFor(id).Peek({ path: p })),
      snapshot: (id) => reach(clientFor(id).Snapshot()),
      pack: (id) => reach(clientFor(id).Pack()),
      local
    }, forwarded)
    const startedAt = Date.now()
    const readiness = () => watch.lost() ? notReady(lostDatabase) : shards() > 0 ? Ready : notReady(unjoined)
    const healthy = () => readiness().ready
    yield* server.start({
      readiness,
      metrics: () => runnerMetrics({ serfs: counters, forwarded, shards }),
      status: Effect.map(
        Effect.suspend(() => Effect.forEach([...counters.piers], ([id, pier]) => Effect.map(pier.status, (status) => ({ id, status })))),
        (serfs): RunnerStatus => ({
          kind: "runner",
          role: "serf",
          now: Date.now(),
          startedAt,
          healthy: healthy(),
          runner: `${flags.runner.host}:${flags.runner.port}`,
          shards: shards(),
          forwarded: forwarded.count,
          serfs: serfs.sort((a, b) => (a.id < b.id ? -1 : 1)),
          pool: null,
          sessions: null
        })
      ),
      routes
    })
    yield* awaitShutdown(server)
    // the serfs here are saved and stopped by liege itself too: the engine may be held by a partition
    const stopSerfs = Effect.forEach([...counters.piers.values()], (pier) => pier.shutdown(flags.drain, watch.whenLost), {
      concurrency: "unbounded",
      discard: true
    })
    yield* leave(stopSerfs, () => {
      const alive = [...counters.piers].filter(([, pier]) => {
        const pid = pier.view().pid
        return pid !== null && isAlive(pid)
      })
      return alive.length === 0 ? undefined : `serfs ${alive.map(([id]) => id).join(", ")}`
    })
  })))

export const poolProgram = ({ flags, command: [command, ...args] }: Parsed<typeof clusterPool.flags>) =>
  traced(Effect.scoped(Effect.gen(function*() {
    const { server, db, dbContext, engine, watch, leave } = yield* startRunner(flags)
    const pool = yield* makePool({ ...poolOptions(flags, command!, args), spans: yield* Spans })
    const store = yield* Effect.provide(makeJobStore, dbContext).pipe(
      Effect.mapError((e) => new ExitStatus({ status: 1, line: `liege: ${e.message}` }))
    )
    const counters = SessionEntity.makeCounters()
    const entities = SessionEntity.layer(store, pool, counters, flags.idle)
    const runner = Runner.layer({ runner: flags.runner })
    const context = yield* Layer.buildWithScope(entities.pipe(Layer.provideMerge(runner), Layer.provideMerge(db)), engine).pipe(
      Effect.catchCause(joinFailed(flags.runner))
    )
    // (only now: a runner that cannot start says why in the one line it writes to stderr)
    yield* Effect.logInfo(`status page: ${server.url}/ui`)
    const sharding = yield* Effect.provide(Sharding, context)
    const sessionFor = yield* Effect.provide(Session.client, context)
    const shards = ownedShards(sharding)
    const forwarded = { count: 0 }
    const wake = (session: string) => Effect.ignore(Effect.timeout(sessionFor(session).Wake(), "5 minutes"))
    // wakes are the runner's own fibers: a request that woke a session does not wait for its jobs
    const runWake = yield* FiberSet.makeRuntime<never>()
    // one wake per session at a time from this runner (a wake lasts until the session's queue is
    // empty); one asked for meanwhile is sent when it ends, so no job is left for the poll to find
    const waking = new Map<string, { again: boolean; readonly since: number }>()
    const wakeUp = (session: string): void => {
      const outstanding = waking.get(session)
      if (outstanding !== undefined) {
        outstanding.again = true
        return
      }
      const mine = { again: false, since: Date.now() }
      waking.set(session, mine)
      runWake(Effect.ensuring(wake(session), Effect.sync(() => {
        if (waking.get(session) !== mine) return
        waking.delete(session)
        if (mine.again) wakeUp(session)
      })))
    }
    // the poll: sessions with queued or running jobs are woken on their owners (a lost wake, a dead
    // owner's sessions); a wake outstanding for long (its owner may be gone) is sent again
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      yield* Effect.sleep("1 second")
      const sessions = yield* Effect.orElseSucceed(store.sessionsWithWork, () => [] as ReadonlyArray<string>)
      const now = Date.now()
      for (const s of sessions) {
        const outstanding = waking.get(s)
        if (outstanding !== undefined && now - outstanding.since > 5_000) waking.delete(s)
        if (!waking.has(s)) wakeUp(s)
      }
    })))
    const routes = jobRoutes(pool, {
      enqueue: (session, body) =>
        store.add(session, body.text).pipe(
          Effect.tap(() => Effect.sync(() => {
            if (!sharding.hasShardId(sharding.getShardId(session as never, "default"))) forwarded.count++
            wakeUp(session)
          })),
          Effect.mapError(answerOf)
        ),
      get: (id) => Effect.mapError(store.get(id), answerOf)
    })
    const startedAt = Date.now()
    const readiness = () => watch.lost() ? notReady(lostDatabase) : shards() > 0 ? pool.readiness() : notReady(unjoined)
    const healthy = () => readiness().ready
    yield* server.start({
      readiness,
      metrics: () => runnerMetrics({ sessions: counters, forwarded, shards }),
      status: Effect.map(pool.status, (doc): RunnerStatus => ({
        kind: "runner",
        role: "pool",
        now: Date.now(),
        startedAt,
        healthy: healthy(),
        runner: `${flags.runner.host}:${flags.runner.port}`,
        shards: shards(),
        forwarded: forwarded.count,
        serfs: [],
        pool: doc,
        sessions: { owned: counters.active, started: counters.started, settled: counters.settled }
      })),
      routes,
      // this runner's own workers (SPEC §5 Reload): each runner reloads its pool by itself
      reload: pool.reload.pipe(Effect.map((r) => ({ reloaded: r.reloaded, generation: r.generation })))
    })
    yield* awaitShutdown(server)
    // the pool drains (its jobs cut off are queued again for the sessions' next owners) while the
    // engine lets the sessions go
    yield* leave(pool.shutdown(flags.drain), () => counters.active === 0 ? undefined : `${counters.active} sessions`)
  })))
