/**
 * The serf protocol (SPEC §2): writs (host → serf) and pleas (serf → host).
 * Every message is an object with a string tag `t`; the same shapes travel in
 * both codecs.
 */
import { Schema } from "effect"

export const PROTOCOL_VERSION = 1

const EventNumber = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
/** A 32-bit unsigned hash of serf state, computed by the serf. */
export const Mug = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff }))
/** Milliseconds since the epoch. */
const Wen = Schema.Finite

/** An error name and its lines. */
export const Goof = Schema.Struct({ mote: Schema.String, tang: Schema.Array(Schema.String) })
export type Goof = typeof Goof.Type

/** One event as the log and `play` carry it. */
export const Event = Schema.Struct({ wen: Wen, ev: Schema.Unknown })
export type Event = typeof Event.Type

// ── writs ────────────────────────────────────────────────────────────────────

export const Exit = Schema.Struct({ t: Schema.Literal("exit"), code: Schema.Int })
export const Save = Schema.Struct({ t: Schema.Literal("save"), eve: EventNumber })
export const Pack = Schema.Struct({ t: Schema.Literal("pack"), eve: EventNumber })
export const Peek = Schema.Struct({
  t: Schema.Literal("peek"),
  now: Wen,
  gang: Schema.NullOr(Schema.Array(Schema.String)),
  path: Schema.Array(Schema.String)
})
export const Play = Schema.Struct({ t: Schema.Literal("play"), eve: EventNumber, events: Schema.Array(Event) })
export const Work = Schema.Struct({ t: Schema.Literal("work"), wen: Wen, ev: Schema.Unknown })

export const Writ = Schema.Union([Exit, Save, Pack, Peek, Play, Work])
export type Writ = typeof Writ.Type

// ── pleas ────────────────────────────────────────────────────────────────────

export const Ripe = Schema.Struct({
  t: Schema.Literal("ripe"),
  pro: Schema.Int,
  hon: Schema.Int,
  nok: Schema.Int,
  eve: EventNumber,
  mug: Mug
})
export type Ripe = typeof Ripe.Type
export const Live = Schema.Struct({ t: Schema.Literal("live") })
export const Peeked = Schema.Struct({ t: Schema.Literal("peek"), dat: Schema.Unknown })
export const PlayDone = Schema.Struct({ t: Schema.Literal("play-done"), mug: Mug })
export const PlayBail = Schema.Struct({ t: Schema.Literal("play-bail"), eve: EventNumber, mug: Mug, dud: Goof })
export const WorkDone = Schema.Struct({
  t: Schema.Literal("work-done"),
  eve: EventNumber,
  mug: Mug,
  fec: Schema.Array(Schema.Unknown)
})
export type WorkDone = typeof WorkDone.Type
export const WorkSwap = Schema.Struct({
  t: Schema.Literal("work-swap"),
  eve: EventNumber,
  mug: Mug,
  wen: Wen,
  ev: Schema.Unknown,
  fec: Schema.Array(Schema.Unknown)
})
export type WorkSwap = typeof WorkSwap.Type
export const WorkBail = Schema.Struct({ t: Schema.Literal("work-bail"), lud: Schema.Array(Goof) })
export type WorkBail = typeof WorkBail.Type

export const Plea = Schema.Union([Ripe, Live, Peeked, PlayDone, PlayBail, WorkDone, WorkSwap, WorkBail])
export type Plea = typeof Plea.Type

const schemas: Record<string, Schema.Codec<Plea, unknown>> = {
  ripe: Ripe,
  live: Live,
  peek: Peeked,
  "play-done": PlayDone,
  "play-bail": PlayBail,
  "work-done": WorkDone,
  "work-swap": WorkSwap,
  "work-bail": WorkBail
}

const guards = new Map(Object.values(schemas).map((s) => [s, Schema.is(s)] as const))

/**
 * `work-done`, a serf's answer to every event, checked by hand as its schema
 * does (a safe integer `eve` ≥ 0, a `mug` in 0..2^32−1, an array `fec`):
 * the hot path of the hot path. test/laws/plea.test.ts keeps the two alike.
 */
export const isWorkDone = (m: { readonly [k: string]: unknown }): boolean => {
  const eve = m["eve"]
  const mug = m["mug"]
  return m["t"] === "work-done" && Number.isSafeInteger(eve) && (eve as number) >= 0 && Number.isSafeInteger(mug) &&
    (mug as number) >= 0 && (mug as number) <= 0xffffffff && Array.isArray(m["fec"])
}

/**
 * Checks a decoded message against the one plea schema its tag names: the
 * plea itself when it conforms (checked with `Schema.is`, which copies
 * nothing: this is the hot path), else the reason it does not.
 */
export const checkPlea = (message: { readonly t: string }): Plea | string => {
  if (isWorkDone(message as { readonly [k: string]: unknown })) return message as Plea
  const schema = schemas[message.t]
  if (schema === undefined) return `unknown plea ${JSON.stringify(message.t)}`
  const guard = guards.get(schema)!
  if (guard(message)) return message as Plea
  const exit = Schema.decodeUnknownExit(schema)(message)
  if (exit._tag === "Success") return exit.value
  return `bad ${message.t}: ${exit.cause.reasons.map((r) => (r as { error?: Error }).error?.message).join("; ")}`
}
