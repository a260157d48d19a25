/**
 * Trace context through a pier (SPEC §1, §8 Tracing): `poke` inside a span
 * sends that span's context with the `work` writ; with `spans`, the pier
 * records the serf's work and the log commit as children of the caller's
 * span, and the serf's part runs in the work span.
 */
import { describe, expect } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import { open } from "../../src/pier/pier.ts"
import type { PokeAnswer } from "../../src/pier/types.ts"
import { liveIn } from "../support/live.ts"
import { kvSerf } from "../support/serfs.ts"
import { parentId, recording } from "../support/tracer.ts"

const live = liveIn("liege-pier-trace-")

/** The trace the serf saw (the kv serf's `trace` event answers it in its effects). */
const traceOf = (answer: PokeAnswer) => answer._tag === "Bail" ? "bailed" : (answer.effects[0] as { trace: string | null }).trace

describe("trace context through a pier", () => {
  live("outside a span the serf gets no trace; inside one, the span's context", (dir) =>
    Effect.gen(function*() {
      const pier = yield* open({ dir, ...kvSerf })
      expect(traceOf(yield* pier.poke({ op: "trace" }))).toBeNull()
      const { answer, span } = yield* Effect.gen(function*() {
        return { answer: yield* pier.poke({ op: "trace" }), span: yield* Effect.orDie(Effect.currentSpan) }
      }).pipe(Effect.withSpan("caller"))
      expect(traceOf(answer)).toBe(`00-${span.traceId}-${span.spanId}-01`)
      // the same with the event as JSON text, sent as it is
      const text = yield* Effect.gen(function*() {
        return { answer: yield* pier.poke({ op: "trace" }, JSON.stringify({ op: "trace" })), span: yield* Effect.orDie(Effect.currentSpan) }
      }).pipe(Effect.withSpan("caller"))
      expect(traceOf(text.answer)).toBe(`00-${text.span.traceId}-${text.span.spanId}-01`)
    }))

  live("with spans: work and commit are the caller's children; the serf's part runs in the work span", (dir) =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const pier = yield* open({ dir, ...kvSerf, spans: true })
      const { answer, caller } = yield* Effect.gen(function*() {
        return { answer: yield* pier.poke({ op: "trace" }), caller: yield* Effect.orDie(Effect.currentSpan) }
      }).pipe(Effect.withSpan("caller"), Effect.provideService(Tracer.Tracer, tracer))
      const work = spans.find((s) => s.name === "work")!
      const commit = spans.find((s) => s.name === "commit")!
      for (const s of [work, commit]) {
        expect(s.traceId).toBe(caller.traceId)
        expect(parentId(s)).toBe(caller.spanId)
        expect(s.status._tag).toBe("Ended")
      }
      expect(traceOf(answer)).toBe(`00-${work.traceId}-${work.spanId}-01`)
      // the commit follows the work
      expect(commit.status.startTime >= (work.status._tag === "Ended" ? work.status.endTime : 0n)).toBe(true)
      // a bail ends its work span as an error, and no commit is made for it
      spans.length = 0
      yield* pier.poke({ op: "what" }).pipe(Effect.withSpan("caller"), Effect.provideService(Tracer.Tracer, tracer))
      expect(spans.map((s) => s.name).sort()).toEqual(["caller", "work"])
      const bailed = spans.find((s) => s.name === "work")!
      expect(bailed.status._tag === "Ended" && bailed.status.exit._tag).toBe("Failure")
    }))
})
