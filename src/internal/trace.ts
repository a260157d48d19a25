/**
 * Trace context for the worker's part (SPEC §1 trace context, §8 Tracing).
 *
 * A caller inside a span sends that span's context with its request or
 * event (`trace`: a W3C traceparent). With `spans` on (the command line
 * does it when it exports traces), liege records spans of its own between
 * the caller's and the worker's — the wait in the queue and the worker's
 * exec, or the serf's work and the log commit — and the worker's part runs
 * in the exec or work span. Spans are made with the caller's tracer and
 * timed by the component's clock (one clock).
 */
import { type Clock, Context, Exit, type Fiber, Option, References, Tracer } from "effect"

/** The caller's span and tracer: whoever wants the worker's part in a trace. */
export interface Caller {
  readonly parent: Tracer.AnySpan
  readonly tracer: Tracer.Tracer
  /** The parent's traceparent. */
  readonly traceparent: string
}

const traceIdText = /^[0-9a-f]{32}$/
const spanIdText = /^[0-9a-f]{16}$/
const ZERO_TRACE = "0".repeat(32)

/** The zero span id: stands in a frame for the span the worker's part will run in, written in when it is known. */
export const PLACEHOLDER_SPAN = "0".repeat(16)

/** A span's W3C traceparent, or undefined when its ids are not W3C ids (an external span made up by hand). */
export const traceparent = (span: Tracer.AnySpan): string | undefined =>
  traceIdText.test(span.traceId) && spanIdText.test(span.spanId) && span.traceId !== ZERO_TRACE && span.spanId !== PLACEHOLDER_SPAN
    ? `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
    : undefined

/** The span a W3C `traceparent` header names (version 00), or undefined when there is none or it is not one. */
export const fromTraceparent = (header: string | ReadonlyArray<string> | undefined): Tracer.ExternalSpan | undefined => {
  if (typeof header !== "string") return undefined
  const parts = header.trim().split("-")
  if (parts.length !== 4 || parts[0] !== "00" || !/^[0-9a-f]{2}$/.test(parts[3]!)) return undefined
  const [, traceId, spanId, flags] = parts as [string, string, string, string]
  const span = Tracer.externalSpan({ traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 })
  return traceparent(span) === undefined ? undefined : span
}

/** The fiber's span, when it is in one (and neither tracing nor its propagation is turned off). */
export const callerOf = (fiber: Fiber.Fiber<unknown, unknown>): Caller | undefined => {
  const parent = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  if (parent === undefined || fiber.getRef(Tracer.DisablePropagation) || !fiber.getRef(References.TracerEnabled)) return undefined
  const text = traceparent(parent)
  return text === undefined ? undefined : { parent, tracer: fiber.getRef(Tracer.Tracer), traceparent: text }
}

/** A child span of the caller's, started now. */
export const start = (
  caller: Caller,
  name: string,
  clock: Clock.Clock,
  attributes?: Readonly<Record<string, unknown>>
): Tracer.Span => {
  const span = caller.tracer.span({
    name,
    parent: Option.some(caller.parent),
    annotations: Context.empty(),
    links: [],
    startTime: clock.currentTimeNanosUnsafe(),
    kind: "internal",
    root: false,
    sampled: caller.parent.sampled
  })
  if (attributes !== undefined) for (const key in attributes) span.attribute(key, attributes[key])
  return span
}

/** Ends `span` now: a success, a failure with `error`, or (`"interrupted"`) cut short by its caller. */
export const end = (span: Tracer.Span, clock: Clock.Clock, error?: unknown): void => {
  if (span.status._tag === "Ended") return
  span.end(clock.currentTimeNanosUnsafe(), error === undefined ? Exit.void : error === interrupted ? Exit.interrupt() : Exit.fail(error))
}

/** Ends a span as interrupted (its caller left). */
export const interrupted: unique symbol = Symbol("liege/trace/interrupted")

/** Where the span id of a traceparent starts within it. */
export const SPAN_OFFSET = 36

/** A traceparent of the caller's trace whose span id is yet to be written in (see `PLACEHOLDER_SPAN`). */
export const placeholder = (caller: Caller): string =>
  `00-${caller.parent.traceId}-${PLACEHOLDER_SPAN}-${caller.parent.sampled ? "01" : "00"}`
