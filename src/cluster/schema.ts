/**
 * Idempotent creation of the cluster's tables. Several runners may start at
 * once against an empty database: `CREATE TABLE IF NOT EXISTS` alone is not
 * safe then (two sessions can both find the table missing and one fails on
 * the catalogue's unique index), so the statements run in one transaction
 * under a transaction-level advisory lock, one at a time across the cluster.
 *
 * A client runs each schema once (remembered per client).
 */
import { Effect } from "effect"
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
