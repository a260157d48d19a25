/**
 * The serf's hot-path check agrees with its schema: for any message tagged
 * `work-done`, `isWorkDone` (by hand) says yes exactly when `WorkDone`'s
 * schema does — at the edges too (2^53, 2^32, −0, NaN, fractions, strings,
 * missing fields, arrays that are not), so what the host accepts from a
 * serf is what the protocol says, however fast it is checked.
 */
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import fc from "fast-check"
import { checkPlea, isWorkDone, WorkDone } from "../../src/serf/protocol.ts"

const edges = [0, -0, 1, -1, 0.5, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), NaN, Infinity, -Infinity]
/** A number field: mostly at the edges the schema draws, sometimes anything at all. */
const number = fc.oneof(
  { arbitrary: fc.constantFrom(...edges), weight: 6 },
  { arbitrary: fc.integer(), weight: 2 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined), fc.object({ maxDepth: 1 })), weight: 1 }
)
const effects = fc.oneof(
  { arbitrary: fc.array(fc.anything(), { maxLength: 3 }), weight: 4 },
  { arbitrary: fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined), fc.object({ maxDepth: 1 })), weight: 1 }
)
const message = fc.record(
  { t: fc.constantFrom("work-done", "work-done", "work-done", "work-swap"), eve: number, mug: number, fec: effects, extra: fc.anything() },
  { requiredKeys: ["t", "eve", "mug", "fec"] }
)

describe("laws: a serf's work-done", () => {
  it("isWorkDone says what the WorkDone schema says, and checkPlea takes what they take", () => {
    const bySchema = Schema.is(WorkDone)
    fc.assert(
      fc.property(message, (m) => {
        expect(isWorkDone(m)).toBe(m.t === "work-done" && bySchema(m))
        if (m.t === "work-done") expect(typeof checkPlea(m) !== "string").toBe(bySchema(m))
      }),
      { numRuns: 5000 }
    )
  })
})
