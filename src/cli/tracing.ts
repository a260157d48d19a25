/**
 * Tracing for the server subcommands (SPEC §8 Tracing), from the
 * OpenTelemetry environment:
 *
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (as it is), else
 *   `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended: where spans go,
 *   over OTLP/HTTP; neither set (or `OTEL_SDK_DISABLED=true`): nothing is
 *   exported and no span is made — an incoming `traceparent` is still
 *   handed to the worker as it is;
 * - `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`:
 *   `http/protobuf` (default) or `http/json`;
 * - `OTEL_SERVICE_NAME`: the service's name (default `liege`);
 * - `OTEL_EXPORTER_OTLP_TRACES_HEADERS` / `OTEL_EXPORTER_OTLP_HEADERS`:
 *   `k=v,k2=v2` (percent-decoded), sent with every export.
 *
 * A value that cannot be used is a usage error naming the variable (exit 2).
 * Spans are flushed when liege stops (within `OTEL_EXPORTER_OTLP_TIMEOUT`
 * ms, default 3000).
 */
import { Context, Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"
import { UsageError } from "./errors.ts"

type Env = Readonly<Record<string, string | undefined>>

export interface Export {
  readonly url: string
  readonly protocol: "http/protobuf" | "http/json"
  readonly serviceName: string
  readonly headers: Readonly<Record<string, string>>
  readonly shutdownMs: number
}

/** Whether liege records spans of its own: true while it exports them. */
export const Spans = Context.Reference<boolean>("liege/cli/Spans", { defaultValue: () => false })

const set = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim()
  return v === undefined || v === "" ? undefined : v
}

const urlIn = (env: Env, name: string, append: boolean): string | UsageError => {
  const text = set(env, name)!
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return new UsageError({ message: `${name}: not a URL: ${JSON.stringify(text)}` })
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return new UsageError({ message: `${name}: ${url.protocol}//… is not http:// or https://` })
  }
  if (append) url.pathname = `${url.pathname.replace(/\/$/, "")}/v1/traces`
  return url.toString()
}

const headersIn = (env: Env): Record<string, string> | UsageError => {
  const name = set(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS") !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_HEADERS" : "OTEL_EXPORTER_OTLP_HEADERS"
  const text = set(env, name)
  const headers: Record<string, string> = {}
  if (text === undefined) return headers
  for (const pair of text.split(",")) {
    const at = pair.indexOf("=")
    if (at <= 0) return new UsageError({ message: `${name}: expected key=value pairs separated by commas` })
    try {
      headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim())
    } catch {
      return new UsageError({ message: `${name}: not valid percent-encoding` })
    }
  }
  return headers
}

/** Where and how spans are exported, or undefined when they are not (or why the environment is wrong). */
export const exportFrom = (env: Env = process.env): Export | undefined | UsageError => {
  if (set(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true") return undefined
  const url = set(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") !== undefined
    ? urlIn(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", false)
    : set(env, "OTEL_EXPORTER_OTLP_ENDPOINT") !== undefined
    ? urlIn(env, "OTEL_EXPORTER_OTLP_ENDPOINT", true)
    : undefined
  if (url === undefined || url instanceof UsageError) return url
  const protocolName = set(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL"
  const protocol = set(env, protocolName) ?? "http/protobuf"
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    return new UsageError({ message: `${protocolName}: ${JSON.stringify(protocol)} is not http/protobuf or http/json` })
  }
  const headers = headersIn(env)
  if (headers instanceof UsageError) return headers
  const timeoutName = set(env, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT" : "OTEL_EXPORTER_OTLP_TIMEOUT"
  const timeout = set(env, timeoutName)
  if (timeout !== undefined && !/^\d+$/.test(timeout)) return new UsageError({ message: `${timeoutName}: not a number of milliseconds: ${JSON.stringify(timeout)}` })
  return { url, protocol, serviceName: set(env, "OTEL_SERVICE_NAME") ?? "liege", headers, shutdownMs: timeout === undefined ? 3_000 : Number(timeout) }
}

/** The exporter's layer: Effect's OTLP tracer, over `fetch`. */
const exporter = (to: Export) =>
  OtlpTracer.layer({ url: to.url, resource: { serviceName: to.serviceName }, headers: to.headers, shutdownTimeout: to.shutdownMs }).pipe(
    Layer.provide(to.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf),
    Layer.provide(FetchHttpClient.layer)
  )

/**
 * Runs a server subcommand's program traced as the environment says: with
 * an exporter, its spans on (`Spans`) and exported; the exporter's scope
 * is the outermost, so spans still buffered are flushed as liege stops.
 */
export const traced = <A, E, R>(program: Effect.Effect<A, E, R>): Effect.Effect<A, E | UsageError, R> =>
  Effect.suspend((): Effect.Effect<A, E | UsageError, R> => {
    const to = exportFrom()
    if (to instanceof UsageError) return Effect.fail(to)
    if (to === undefined) return program
    return program.pipe(Effect.provideService(Spans, true), Effect.provide(exporter(to)))
  })
