/**
 * A stored session job's run and its recorded end, shared by the
 * single-machine runner (SQLite) and the cluster's session entities
 * (PostgreSQL), so that both record the same thing for the same exit.
 */
import { Effect, Exit } from "effect"
import type { PoolError } from "../pool/errors.ts"
import type { Pool } from "../pool/pool.ts"

/** A stored job waits out a full queue instead of failing on Busy. */
export const runStored = (pool: Pool, payload: unknown): Effect.Effect<unknown, PoolError> =>
  pool.submit(payload).pipe(
    Effect.catchTag("Busy", () => Effect.andThen(Effect.sleep(50), Effect.suspend(() => runStored(pool, payload))))
  )

/** Interrupted, or refused because the pool is stopping: not the job's outcome; it runs again. */
export const isCutOff = (exit: Exit.Exit<unknown, unknown>): boolean => {
  if (Exit.isSuccess(exit)) return false
  if (exit.cause.reasons.every((r) => r._tag === "Interrupt")) return true
  const first = exit.cause.reasons[0]
  return first?._tag === "Fail" && (first.error as { _tag?: unknown } | null)?._tag === "ShuttingDown"
}

/** How a failure is recorded: its tag, message and other fields. */
export const errorRecord = (e: unknown): Record<string, unknown> => {
  if (typeof e === "object" && e !== null) {
    const record: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(e)) if (k !== "_tag" && k !== "stack") record[k] = v
    return { tag: (e as { _tag?: unknown })._tag ?? "Error", message: String((e as { message?: unknown }).message ?? e), ...record }
  }
  return { tag: "Error", message: String(e) }
}

/** A job's recorded end, from its (not cut-off) exit. */
export const outcomeOf = (exit: Exit.Exit<unknown, unknown>): { readonly ok: unknown } | { readonly error: Record<string, unknown> } => {
  if (Exit.isSuccess(exit)) return { ok: exit.value }
  const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
  return { error: failure !== undefined ? errorRecord(failure.error) : { tag: "Defect", message: String(exit.cause) } }
}
