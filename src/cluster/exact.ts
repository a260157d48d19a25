/**
 * Values travel exactly or not at all (SPEC §1): what PostgreSQL could not
 * store as given is refused before it is sent, and parameters are bound with
 * fixed types so every statement keeps one prepared form.
 *
 * Numbers go to the server as `float8` (exact for every JS number) and are
 * cast there (`::int8`); integers come back cast to `float8`, so they arrive
 * as JS numbers, exact while they are safe integers (checked on the way in).
 */
import { PgTypes } from "@effect/sql-pg"
import { Result } from "effect"

/** Why PostgreSQL `text` cannot hold `s` exactly, or undefined when it can. */
export const inexactText = (s: string): string | undefined => {
  if (s.includes("\0")) return "it contains a NUL character, which PostgreSQL text cannot hold"
  if (!s.isWellFormed()) {
    return "it contains a lone surrogate, which has no UTF-8 form"
  }
  return undefined
}

export const float8 = (value: number | null): PgTypes.Parameter => PgTypes.float8(value)

/** A `float8[]` parameter (nulls allowed). */
export const float8s = (values: ReadonlyArray<number | null>): PgTypes.Parameter =>
  Result.getOrThrow(PgTypes.array(values, PgTypes.OID.float8))

/** A `text[]` parameter. */
export const texts = (values: ReadonlyArray<string | null>): PgTypes.Parameter =>
  Result.getOrThrow(PgTypes.array(values, PgTypes.OID.text))
