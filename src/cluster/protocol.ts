/**
 * The entities of a liege cluster (SPEC §9) and their messages between
 * runners. Values that a caller gave as JSON (events, effects, peeks) cross
 * as JSON text, so that they arrive exactly as given whatever the runners'
 * own serialization does with numbers.
 *
 * - `Serf` (id: the serf's name): `Poke`, `Peek`, `Snapshot`, `Pack`,
 *   `Touch` (nothing: keeps an entity served without the cluster busy). A
 *   poke carries a key chosen by the runner that took the HTTP request: the
 *   cluster re-sends a request that was in flight on a runner that died, and
 *   the key makes that re-send find the first one's answer instead of
 *   logging the event twice.
 * - `Session` (id: the session's name): `Wake`, which tells the owner of the
 *   session that it may have queued jobs.
 */
import { Schema } from "effect"
import { Entity } from "effect/cluster"
import { Rpc } from "effect/rpc"

/** `[A-Za-z0-9_-]{1,64}` (SPEC §9): the log refuses any other. */
export { SERF_ID } from "./event-log.ts"

/**
 * What went wrong on the serf's runner, to be answered where the request
 * came in: the error's tag, message and plain fields (the HTTP edge decides
 * the status and which fields a body shows, with its one error map).
 */
export class Refusal extends Schema.TaggedError<Refusal>()("Refusal", {
  tag: Schema.String,
  message: Schema.String,
  fields: Schema.optional(Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Number, Schema.Boolean, Schema.Null]))),
  /** A Bail's goofs, as JSON text. */
  goofs: Schema.optional(Schema.String)
}) {}

/** The plain fields of an error (strings, numbers, booleans, null), for a `Refusal`. */
export const plainFields = (e: object): Record<string, string | number | boolean | null> => {
  const out: Record<string, string | number | boolean | null> = {}
  for (const [k, v] of Object.entries(e)) {
    if (k === "_tag" || k === "message" || k === "stack") continue
    if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = v
  }
  return out
}

export const PokeReply = Schema.Struct({
  eve: Schema.Int,
  mug: Schema.Int,
  /** The effects, as JSON text. */
  effects: Schema.String,
  /** A swap's replacement event, as JSON text. */
  swapped: Schema.optional(Schema.String),
  /** The runner that answered (`HOST:PORT`). */
  runner: Schema.String,
  /** Its HTTP address (`http://HOST:PORT`): where the serf's later events may be sent (./forward.ts). */
  url: Schema.optional(Schema.String)
})
export type PokeReply = typeof PokeReply.Type

export const Poke = Rpc.make("Poke", {
  payload: { key: Schema.String, ev: Schema.String },
  success: PokeReply,
  error: Refusal
})

export const Peek = Rpc.make("Peek", {
  payload: { path: Schema.Array(Schema.String) },
  /** The value, as JSON text. */
  success: Schema.String,
  error: Refusal
})

export const Snapshot = Rpc.make("Snapshot", { success: Schema.Int, error: Refusal })
export const Pack = Rpc.make("Pack", { success: Schema.Int, error: Refusal })

/** Nothing: a runner serving the serf's requests without the cluster keeps its entity from going idle with it. */
export const Touch = Rpc.make("Touch", { success: Schema.Void })

export const Serf = Entity.make("Serf", [Poke, Peek, Snapshot, Pack, Touch])

export const Wake = Rpc.make("Wake", { success: Schema.Void })

export const Session = Entity.make("Session", [Wake])
