/**
 * A tracer that keeps every span it makes (Effect's own `NativeSpan`), for
 * tests that look at the spans liege records.
 */
import { Option, Tracer } from "effect"

export const recording = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

/** The span id of a span's parent, if it has one. */
export const parentId = (span: Tracer.Span): string | undefined => Option.getOrUndefined(Option.map(span.parent, (p) => p.spanId))
