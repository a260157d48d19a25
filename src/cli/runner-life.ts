/**
 * The start and the end of a cluster runner (SPEC §9), shared by `liege
 * cluster serf` and `liege cluster pool`.
 *
 * Start, so that nothing is spawned for a runner that cannot run: the
 * database from the flag or the environment (./database.ts; none: exit 2),
 * `--listen` bound (exit 1), the database reached and effect/cluster's
 * tables created, one runner at a time (exit 1, one line naming the
 * database and what is wrong).
 *
 * Everything that talks to the database or the other runners — the
 * PostgreSQL client, the engine (`effect/cluster`), the entities — lives in
 * the runner's own scope, the engine's, apart from the program's.
 *
 * Leaving (SIGTERM), bounded whatever the engine is doing: a partition can
 * hold its release of the shards or its unregistration for minutes (a
 * statement on a connection whose peer went silent waits for TCP to give
 * up). The engine's scope is closed in a fiber of its own while liege stops
 * its own workers (serfs saved and stopped, or the pool drained: `--drain`
 * plus their escalation windows); then the engine gets the shard lock
 * expiry to finish. Past that, liege says what was cut short and exits
 * without it: its shard locks expire on their own and the other runners
 * take its shards over.
 */
import { Cause, Duration, Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import type { Context } from "effect"
import type { PgClient } from "@effect/sql-pg"
import { SqlClient } from "effect/sql/SqlClient"
import * as Runner from "../cluster/runner.ts"
import { migrateCluster } from "../cluster/schema.ts"
import { watchDatabase, type DatabaseWatch } from "../cluster/watch.ts"
import { reasonOf, type Server } from "../http/server.ts"
import type { Listen } from "./args.ts"
import { resolveDatabase } from "./database.ts"
import { ExitStatus, UsageError } from "./errors.ts"
import { bind } from "./serve.ts"
import { Shutdown } from "./shutdown.ts"

/** How long reaching the database and creating the tables may take at start. */
const START_LIMIT = Duration.seconds(10)

const SYSTEM_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "no such host (DNS lookup failed)",
  EACCES: "permission denied"
}

/** A SQL error in words: PostgreSQL's own message and SQLSTATE, or the system's. */
const sqlProblem = (e: { readonly message?: string; readonly reason?: unknown }): string => {
  const reason = e.reason as { readonly message?: string; readonly cause?: unknown } | undefined
  const own = (reason?.message ?? e.message ?? "").replace(/^PgConnection: /, "")
  const cause = reason?.cause as { readonly message?: unknown; readonly code?: unknown } | undefined
  const code = typeof cause?.code === "string" ? cause.code : undefined
  const text = typeof cause?.message === "string" ? cause.message : undefined
  if (code !== undefined && /^E[A-Z_]+$/.test(code)) return `${SYSTEM_ERRORS[code] ?? own} (${text ?? code})`
  if (own === "No username configured") return "no user name: give one in the URL (postgres://USER@host/database) or in PGUSER"
  if (code !== undefined && text !== undefined) return `${text} (SQLSTATE ${code})`
  return text !== undefined && text !== own && !text.includes(own) ? `${own}: ${text}` : text ?? own
}

/** What went wrong with the database, in one line (no stack, no Cause dump). */
export const databaseProblem = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findErrorOption(cause)
  if (Option.isNone(error)) return Cause.pretty(cause).split("\n")[0]!.replace(/^Error: /, "")
  const e = error.value as { readonly _tag?: string; readonly message?: string; readonly cause?: unknown; readonly reason?: unknown }
  if (Cause.isTimeoutError(e)) return `no answer within ${Duration.format(START_LIMIT)}`
  if (e._tag === "SqlError") return sqlProblem(e)
  if (e._tag === "MigrationError") {
    const inner = e.cause as { readonly _tag?: string; readonly reason?: unknown } | undefined
    return `${e.message ?? "a migration failed"}${inner?._tag === "SqlError" ? `: ${sqlProblem(inner)}` : ""}`
  }
  return String(e.message ?? e).split("\n")[0]!
}

/**
 * Why the runner could not join (exit 1, one line): its runner address
 * could not be bound, or the engine could not start on the database.
 */
export const joinFailed = (runner: Listen) => (cause: Cause.Cause<unknown>) => {
  const error = Cause.findErrorOption(cause)
  const e = Option.getOrUndefined(error) as { readonly _tag?: string; readonly cause?: unknown } | undefined
  const address = `${runner.host.includes(":") ? `[${runner.host}]` : runner.host}:${runner.port}`
  if (e?._tag === "SocketServerError") {
    const why = e.cause as NodeJS.ErrnoException | undefined
    return Effect.fail(new ExitStatus({ status: 1, line: `liege: cannot listen on the runner address ${address}: ${why === undefined ? "unknown error" : reasonOf(why)}` }))
  }
  return Effect.fail(new ExitStatus({ status: 1, line: `liege: the runner ${address} could not join the cluster: ${databaseProblem(cause)}` }))
}

export interface Started {
  readonly server: Server
  /** The scope of everything that talks to the database or the other runners: build them in it. */
  readonly engine: Scope.Closeable
  /** The database client, built in the engine's scope. */
  readonly db: Layer.Layer<SqlClient | PgClient.PgClient>
  readonly dbContext: Context.Context<SqlClient | PgClient.PgClient>
  readonly watch: DatabaseWatch
  /**
   * Leaves the cluster (see the top of this file): `stopOwn` stops this
   * runner's own workers (bounded by their drain and escalation windows);
   * `running` names what is still running here, for the line that says what
   * was cut short.
   */
  readonly leave: (stopOwn: Effect.Effect<void>, running: () => string | undefined) => Effect.Effect<void>
}

/** Database named, address bound, listening line printed, database reached, cluster tables made. */
export const startRunner = (flags: {
  readonly database?: string | undefined
  readonly listen: Listen
  readonly token?: string | undefined
  readonly maxBody: number
  readonly maxDepth: number
}): Effect.Effect<Started, unknown, Scope.Scope | Shutdown> =>
  Effect.gen(function*() {
    const database = resolveDatabase(flags.database)
    if (database instanceof UsageError) return yield* database
    const server = yield* bind({ listen: flags.listen, token: flags.token, maxBody: flags.maxBody, maxDepth: flags.maxDepth })
    const engine = yield* Scope.make()
    // closed with the program if it ends before it leaves the cluster (a start that failed, a
    // second signal): bounded the same way
    let left = false
    yield* Effect.addFinalizer(() => left ? Effect.void : leaveCluster(engine, Effect.void, () => undefined))
    const failed = (what: string) => (cause: Cause.Cause<unknown>) =>
      Effect.fail(new ExitStatus({ status: 1, line: `liege: ${what} ${database.shown}: ${databaseProblem(cause)}` }))
    const dbContext = yield* Layer.buildWithScope(Runner.database(database.config), engine).pipe(
      Effect.catchCause(failed("cannot reach the database"))
    )
    yield* Effect.flatMap(SqlClient, (sql) => sql`SELECT 1`).pipe(
      Effect.provide(dbContext),
      Effect.timeout(START_LIMIT),
      Effect.catchCause(failed("cannot reach the database"))
    )
    // effect/cluster's tables, one runner at a time (runners started together on a fresh database)
    yield* migrateCluster.pipe(
      Effect.provide(dbContext),
      Effect.timeout(START_LIMIT),
      Effect.catchCause(failed("cannot create the cluster's tables in the database"))
    )
    const watch = yield* watchDatabase({ everyMs: 500, lostAfterMs: Runner.LOCK_EXPIRY_MS }).pipe(
      Effect.provide(dbContext),
      Scope.provide(engine)
    )
    const leave = (stopOwn: Effect.Effect<void>, running: () => string | undefined) =>
      Effect.suspend(() => {
        left = true
        return leaveCluster(engine, stopOwn, running)
      })
    return { server, engine, db: Layer.succeedContext(dbContext), dbContext, watch, leave }
  })

/** Waits for SIGTERM/SIGINT, then stops taking requests (those already accepted go on). */
export const awaitShutdown = (server: Server) =>
  Effect.gen(function*() {
    const shutdown = yield* Shutdown
    yield* shutdown.requested
    yield* Effect.logInfo("stopping: leaving the cluster (its serfs are saved and stopped, its sessions let go)")
    yield* server.drain
  })

const leaveCluster = (
  engine: Scope.Closeable,
  stopOwn: Effect.Effect<void>,
  running: () => string | undefined
): Effect.Effect<void> =>
  Effect.gen(function*() {
    // The engine's close runs in a fiber no scope of liege owns, on purpose: if a partition holds
    // it, liege exits without it (below), and the process's exit ends it.
    const closing = yield* Effect.forkDetach(Scope.close(engine, Exit.void))
    yield* stopOwn
    const done = yield* Effect.timeoutOption(Fiber.await(closing), Duration.millis(Runner.LOCK_EXPIRY_MS))
    if (Option.isSome(done)) return
    const still = running()
    yield* Effect.logWarning(
      `stopping: cut short: the cluster engine had not finished leaving ${Runner.LOCK_EXPIRY_MS} ms after ` +
        `this runner's own workers stopped (its database or the other runners do not answer: a partition?)` +
        `${still === undefined ? "" : `; still running here: ${still}`}; exiting without it — ` +
        "its shard locks expire on their own and the other runners take its shards over"
    )
  })
