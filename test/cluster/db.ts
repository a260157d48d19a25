/**
 * A fresh database per test on the file's PostgreSQL server (see
 * test/support/postgres.ts), reached through @effect/sql-pg.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"

export const clientLayer = (url: string) => PgClient.layer({ url: Redacted.make(url) })

/** Runs `body` against a new, empty database; the client's connections close at the end. */
export const withDatabase = <A, E>(
  createDb: () => Promise<string>,
  body: (url: string) => Effect.Effect<A, E, SqlClient | PgClient.PgClient>
): Effect.Effect<A, E | unknown> =>
  Effect.flatMap(Effect.promise(createDb), (url) => Effect.provide(body(url), Layer.fresh(clientLayer(url))))
