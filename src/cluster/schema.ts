/**
 * Idempotent creation of the cluster's tables. Several runners may start at
 * once against an empty database: `CREATE TABLE IF NOT EXISTS` alone is not
 * safe then (two sessions can both find the table missing and one fails on
 * the catalogue's unique index: `duplicate key value violates unique
 * constraint "pg_type_typname_nsp_index"`), so every schema change runs
 * under one advisory lock, one runner at a time across the cluster:
 *
 * - liege's own tables (`ensureSchema`): in one transaction under the
 *   transaction-level lock; a client runs each schema once (remembered per
 *   client);
 * - effect/cluster's tables (`migrateCluster`, at a runner's start): its
 *   own migrations of the runner storage and the message storage, run while
 *   a reserved connection holds the session-level lock (the migrator opens
 *   transactions of its own).
 */
import { Effect } from "effect"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as Migrator from "effect/sql/Migrator"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

/** The advisory lock key of liege's schema changes ("liege" in ASCII). */
const SCHEMA_LOCK = 0x6c69656765

const done = new WeakMap<SqlClient, Set<string>>()

export const ensureSchema = (
  name: string,
  statements: ReadonlyArray<string>
): Effect.Effect<void, SqlError, SqlClient> =>
  SqlClient.use((sql) => {
    if (done.get(sql)?.has(name)) return Effect.void
    return sql.withTransaction(
      Effect.andThen(
        sql.unsafe(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`).unprepared,
        Effect.forEach(statements, (s) => sql.unsafe(s).unprepared, { discard: true })
      )
    ).pipe(Effect.tap(() =>
      Effect.sync(() => {
        let names = done.get(sql)
        if (names === undefined) done.set(sql, names = new Set())
        names.add(name)
      })
    ))
  })

/**
 * Creates (or brings up to date) effect/cluster's tables: `cluster_runners`,
 * `cluster_locks` and their history `cluster_runner_migrations`;
 * `cluster_messages`, `cluster_replies` and their history
 * `cluster_migrations` — one runner at a time.
 */
export const migrateCluster: Effect.Effect<void, SqlError | Migrator.MigrationError, SqlClient> = Effect.scoped(
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const lock = yield* sql.reserve
    yield* Effect.acquireRelease(
      lock.executeRaw(`SELECT pg_advisory_lock(${SCHEMA_LOCK})`, []),
      () => Effect.ignore(lock.executeRaw(`SELECT pg_advisory_unlock(${SCHEMA_LOCK})`, []))
    )
    const migrate = Migrator.make({})
    yield* migrate({ loader: SqlRunnerStorage.migrations({}), table: "cluster_runner_migrations" })
    yield* migrate({ loader: SqlMessageStorage.migrations({}), table: "cluster_migrations" })
  })
)
