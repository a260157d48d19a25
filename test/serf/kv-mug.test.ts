/**
 * The example key-value serf's mug, checked against its definition (the XOR
 * over entries of FNV-1a-32 of the UTF-8 bytes of the canonical JSON of
 * [key, value]) computed here the plain way, for keys and values that need
 * escaping, non-ASCII text and nested values: the serf hashes without
 * writing that text when it can, and must hash the same bytes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, Stream } from "effect"
import fc from "fast-check"
import { start } from "../../src/serf/host.ts"
import { kvSerf } from "../support/serfs.ts"

const canonical = (v: unknown): string => {
  if (typeof v !== "object" || v === null) return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`
  const keys = Object.keys(v).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`
}

const fnv1a = (text: string): number => {
  let h = 0x811c9dc5
  for (const b of Buffer.from(text, "utf8")) h = Math.imul(h ^ b, 0x01000193)
  return h >>> 0
}

/** The mug of a state, from its definition. */
const mugOf = (state: ReadonlyMap<string, unknown>): number => {
  let mug = 0
  for (const [k, v] of state) mug = (mug ^ fnv1a(canonical([k, v]))) >>> 0
  return mug
}

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.string({ unit: fc.constantFrom("\"", "\\", "\n", "\u0000", "\u001f", "\u007f", "é", "✓", "😀", "a", "/"), maxLength: 10 })
)
const value = fc.oneof(text, fc.jsonValue({ maxDepth: 2 }).filter((v) => JSON.stringify(v).isWellFormed()))
const keys = fc.constantFrom("a", "b", "k\"q", "back\\slash", "é", "😀", "ctl\u0001")
const event = fc.oneof(
  fc.record({ op: fc.constant("put"), key: fc.oneof(keys, text), value }),
  fc.record({ op: fc.constant("del"), key: keys })
)

const quiet = Logger.layer([])

describe("the key-value serf's mug", () => {
  it.live("is the XOR of FNV-1a of the canonical [key, value] of every entry, after work and after play", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 40 }), (events) =>
          Effect.runPromise(Effect.scoped(Effect.gen(function*() {
            const state = new Map<string, unknown>()
            const worked = yield* start(kvSerf)
            for (const ev of events) {
              if (ev.op === "put") state.set(ev.key, ev.value)
              else state.delete(ev.key)
              const answer = yield* worked.work(ev, 1)
              expect(answer).toMatchObject({ _tag: "Done", mug: mugOf(state) })
            }
            const played = yield* start({ ...kvSerf, batchSize: 7 })
            const r = yield* played.replay(Stream.fromIterable(events.map((ev) => ({ wen: 1, ev }))))
            expect(r).toEqual({ _tag: "Done", eve: events.length, mug: mugOf(state) })
          })).pipe(Effect.provide(quiet)))
        ),
        { numRuns: 15 }
      )
    ), 60_000)
})
