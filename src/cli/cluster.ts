/**
 * `liege cluster serf` and `liege cluster pool` (SPEC §9): one runner of a
 * cluster on `effect/cluster`, with PostgreSQL (`--database`) holding the
 * cluster's state, the serfs' logs and the session jobs.
 *
 * Order at start, so that nothing is spawned for a runner that cannot run:
 * flags (exit 2), `--listen` bound (exit 1), the database reached (exit 1),
 * then the runner joins (`/healthz` 200 once it owns shards) and entities
 * start as messages come. SIGTERM/SIGINT: stop taking requests, leave the
 * cluster (its serfs are saved and stopped, its sessions let go: other
 * runners take them over), exit 0.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, FiberSet, Layer } from "effect"
import { ShardId } from "effect/cluster"
import { Sharding } from "effect/cluster/Sharding"
import { SqlClient } from "effect/sql/SqlClient"
import * as Runner from "../cluster/runner.ts"
import * as SerfEntity from "../cluster/serf-entity.ts"
import * as SessionEntity from "../cluster/session-entity.ts"
import { makeJobStore } from "../cluster/index.ts"
import { Refusal, Serf, Session } from "../cluster/protocol.ts"
import { runnerMetrics, serfRoutes } from "../http/cluster.ts"
import { jobRoutes } from "../http/pool.ts"
import { answerOf } from "../http/errors.ts"
import type { Server } from "../http/server.ts"
import { claim } from "../cluster/event-log.ts"
import { pierLog } from "../cluster/pier-log.ts"
import { fileLeftover, reap } from "../pier/leftover.ts"
import { openWith } from "../pier/pier.ts"
import { make as makePool } from "../pool/pool.ts"
import { notReady, Ready, type RunnerStatus } from "../status/document.ts"
import type { Parsed } from "./args.ts"
import { readBoot } from "./boot.ts"
import { pierOptions, poolOptions } from "./options.ts"
import type { clusterPool, clusterSerf } from "./commands.ts"
import { ExitStatus } from "./errors.ts"
import { bind } from "./serve.ts"
import { Shutdown } from "./shutdown.ts"

const SHARDS = 300
const unjoined = "the runner has not joined the cluster yet (it owns no shards)"

/** Binds, prints the listening line, reaches the database: the steps before anything is spawned. */
const start = (flags: { readonly listen: { host: string; port: number }; readonly token?: string; readonly maxBody: number; readonly maxDepth: number; readonly database: string }) =>
  Effect.gen(function*() {
    const server = yield* bind({ listen: flags.listen, token: flags.token, maxBody: flags.maxBody, maxDepth: flags.maxDepth })
    // the database first: an unreachable one stops liege with one line
    const unreachable = (cause: unknown) =>
      new ExitStatus({ status: 1, line: `liege: cannot reach the database ${redact(flags.database)}: ${firstLine(cause)}` })
    const dbContext = yield* Layer.build(Runner.database(flags.database)).pipe(Effect.mapError(unreachable))
    yield* Effect.flatMap(SqlClient, (sql) => sql`SELECT 1`).pipe(
      Effect.provide(dbContext),
      Effect.timeout("10 seconds"),
      Effect.catchCause((cause) => Effect.fail(unreachable(cause)))
    )
    // one client for the runner, its entities and its stores
    return { server, db: Layer.succeedContext(dbContext), dbContext }
  })

const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@")
const firstLine = (u: unknown) => {
  const text = String(u)
  const reason = /reason[^:]*:\s*([^\n]+)/i.exec(text)?.[1] ?? text.split("\n")[0]!
  return reason.trim()
}

/** Counts the shards this runner owns. */
const ownedShards = (sharding: Sharding["Service"]) => () => {
  let n = 0
  for (let i = 1; i <= SHARDS; i++) if (sharding.hasShardId(ShardId.make("default", i))) n++
  return n
}

const serve = (server: Server) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    yield* shutdown.requested
    yield* Effect.logInfo("stopping: leaving the cluster (serfs are saved and stopped, sessions let go)")
    yield* server.drain
  })

export const serfProgram = ({ flags, command: [command, ...args] }: Parsed<typeof clusterSerf.flags>) =>
  Effect.scoped(Effect.gen(function*() {
    const boot = yield* readBoot(flags.boot)
    const { server, db } = yield* start(flags)
    const counters = SerfEntity.makeCounters()
    fs.mkdirSync(flags.data, { recursive: true })
    // serfs a killed runner left running in --data are reaped before this one starts any
    for (const entry of fs.readdirSync(flags.data, { withFileTypes: true })) {
      if (entry.isDirectory()) yield* Effect.ignore(reap(fileLeftover(path.join(flags.data, entry.name))))
    }
    const entities = SerfEntity.layer({
      data: flags.data,
      idleMs: flags.idle,
      drainMs: flags.drain,
      counters,
      open: (id, dir, keep) =>
        Effect.gen(function*() {
          const log = yield* claim(id)
          // this runner holds the log now: what its last writers logged is final
          const keyed = yield* log.keyed(Math.max(0, (yield* log.last) - keep))
          const pier = yield* openWith(pierLog(log, dir), pierOptions(flags, dir, command!, args, boot), {
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
    const runner = Runner.layer({ database: flags.database, runner: flags.runner })
    const context = yield* Layer.build(entities.pipe(Layer.provideMerge(runner), Layer.provideMerge(db)))
    const sharding = yield* Effect.provide(Sharding, context)
    const clientFor = yield* Effect.provide(Serf.client, context)
    const shards = ownedShards(sharding)
    const local = (id: string) => sharding.hasShardId(sharding.getShardId(id as never, "default"))
    const reach = <A>(e: Effect.Effect<A, unknown>): Effect.Effect<A, Refusal> =>
      Effect.mapError(e, (err) =>
        err instanceof Refusal ? err : new Refusal({ tag: "SerfUnavailable", message: `the serf could not be reached: ${String((err as { message?: string }).message ?? err)}` }))
    const forwarded = { count: 0 }
    const routes = serfRoutes({
      poke: (id, key, ev) => reach(clientFor(id).Poke({ key, ev })),
      peek: (id, p) => reach(clientFor(id).Peek({ path: p })),
      snapshot: (id) => reach(clientFor(id).Snapshot()),
      pack: (id) => reach(clientFor(id).Pack()),
      local
    }, forwarded)
    const startedAt = Date.now()
    yield* server.start({
      readiness: () => shards() > 0 ? Ready : notReady(unjoined),
      metrics: () => runnerMetrics({ serfs: counters, forwarded, shards }),
      status: Effect.map(
        Effect.suspend(() => Effect.forEach([...counters.piers], ([id, pier]) => Effect.map(pier.status, (status) => ({ id, status })))),
        (serfs): RunnerStatus => ({
          kind: "runner",
          role: "serf",
          now: Date.now(),
          startedAt,
          healthy: shards() > 0,
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
    yield* serve(server)
  }))

export const poolProgram = ({ flags, command: [command, ...args] }: Parsed<typeof clusterPool.flags>) =>
  Effect.scoped(Effect.gen(function*() {
    const { server, db, dbContext } = yield* start(flags)
    const pool = yield* makePool(poolOptions(flags, command!, args))
    const store = yield* Effect.provide(makeJobStore, dbContext).pipe(
      Effect.mapError((e) => new ExitStatus({ status: 1, line: `liege: ${e.message}` }))
    )
    const counters = SessionEntity.makeCounters()
    const entities = SessionEntity.layer(store, pool, counters, flags.idle)
    const runner = Runner.layer({ database: flags.database, runner: flags.runner })
    const context = yield* Layer.build(entities.pipe(Layer.provideMerge(runner), Layer.provideMerge(db)))
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
    yield* server.start({
      readiness: () => shards() > 0 ? pool.readiness() : notReady(unjoined),
      metrics: () => runnerMetrics({ sessions: counters, forwarded, shards }),
      status: Effect.map(pool.status, (doc): RunnerStatus => ({
        kind: "runner",
        role: "pool",
        now: Date.now(),
        startedAt,
        healthy: shards() > 0 && pool.ready(),
        runner: `${flags.runner.host}:${flags.runner.port}`,
        shards: shards(),
        forwarded: forwarded.count,
        serfs: [],
        pool: doc,
        sessions: { owned: counters.active, started: counters.started, settled: counters.settled }
      })),
      routes
    })
    yield* serve(server)
    yield* pool.shutdown(flags.drain)
  }))
