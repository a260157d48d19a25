/**
 * Tracing from the command line (SPEC §8 Tracing, §1 trace context): an
 * incoming `traceparent` is continued; with an OTLP endpoint, a job's spans
 * (the HTTP request, its wait in the queue, the worker's exec) reach an
 * OTLP/HTTP receiver — JSON or protobuf — and the worker's part runs in the
 * exec span; without one, nothing is exported and the worker gets the
 * caller's context as it came.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import { healthy, post, serve } from "../support/http.ts"
import { receiver } from "../support/otlp.ts"
import { fixture, node, root } from "../support/procs.ts"
import { tempDir } from "../support/serfs.ts"

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
const callerSpan = "00f067aa0ba902b7"
const traceparent = `00-${traceId}-${callerSpan}-01`
const worker = ["--", node, fixture("trace-worker.ts")]
const parse = (tp: string) => {
  const [version, trace, span, flags] = tp.split("-")
  return { version, trace, span, flags }
}

describe("tracing on the command line", () => {
  it("with OTLP/JSON: the HTTP request, the queue and the exec are spans of the caller's trace; the worker runs in the exec span", async () => {
    const otlp = await receiver()
    const liege = await serve(["pool", "--workers", "1", "--listen", "127.0.0.1:0", ...worker], {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "liege-under-test"
    })
    const r = await post(`${liege.url}/v1/jobs`, { any: "thing" }, { traceparent })
    expect(r.status).toBe(200)
    const seen = parse(r.body.ok as string)
    expect(seen).toMatchObject({ version: "00", trace: traceId, flags: "01" })
    expect(seen.span).not.toBe(callerSpan)
    // a job without a traceparent starts a trace of its own
    const own = parse((await post(`${liege.url}/v1/jobs`, 1)).body.ok as string)
    expect(own.trace).toMatch(/^[0-9a-f]{32}$/)
    expect(own.trace).not.toBe(traceId)
    // stopping liege flushes what it has not exported yet
    liege.proc.kill("SIGTERM")
    expect(await liege.exited).toBe(0)
    expect(otlp.exports.length).toBeGreaterThan(0)
    expect(otlp.exports.every((e) => e.path === "/v1/traces")).toBe(true)
    const spans = otlp.spans().filter((s) => s.traceId === traceId)
    const http = spans.find((s) => s.name === "POST /v1/jobs")
    const queue = spans.find((s) => s.name === "queue")
    const exec = spans.find((s) => s.name === "exec")
    expect(http).toMatchObject({ service: "liege-under-test", kind: 2, parentSpanId: callerSpan })
    expect(http!.attributes["http.response.status_code"]).toBe(200)
    expect(queue).toMatchObject({ parentSpanId: http!.spanId })
    expect(exec).toMatchObject({ parentSpanId: http!.spanId, spanId: seen.span })
    expect(exec!.attributes["liege.worker"]).toBe(1)
    const mine = otlp.spans().filter((s) => s.traceId === own.trace)
    expect(mine.map((s) => s.name).sort()).toEqual(["POST /v1/jobs", "exec", "queue"])
    expect(mine.find((s) => s.name === "POST /v1/jobs")!.parentSpanId).toBeUndefined()
  }, 30_000)

  it("liege serf with OTLP/JSON: an event's HTTP request, the serf's work and the log commit; the serf runs in the work span", async () => {
    const otlp = await receiver()
    const dir = tempDir("liege-trace-serf-")
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }))
    const liege = await serve(["serf", "--pier", dir, "--listen", "127.0.0.1:0", "--", node, path.join(root, "examples/kv-serf.ts")], {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json"
    })
    await healthy(liege.url)
    const r = await post(`${liege.url}/v1/events`, { op: "trace" }, { traceparent })
    expect(r.status).toBe(200)
    const seen = parse(r.body.effects[0].trace as string)
    expect(seen).toMatchObject({ trace: traceId, flags: "01" })
    liege.proc.kill("SIGTERM")
    expect(await liege.exited).toBe(0)
    const spans = otlp.spans().filter((s) => s.traceId === traceId)
    const http = spans.find((s) => s.name === "POST /v1/events")!
    expect(http).toMatchObject({ service: "liege", kind: 2, parentSpanId: callerSpan })
    expect(spans.find((s) => s.name === "work")).toMatchObject({ parentSpanId: http.spanId, spanId: seen.span })
    expect(spans.find((s) => s.name === "commit")).toMatchObject({ parentSpanId: http.spanId })
  }, 30_000)

  it("OTLP over http/protobuf by default, to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given", async () => {
    const otlp = await receiver()
    const liege = await serve(["pool", "--workers", "1", "--listen", "127.0.0.1:0", ...worker], {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/custom/path`
    })
    const answered = await post(`${liege.url}/v1/jobs`, 1, { traceparent })
    expect(answered.status).toBe(200)
    const seen = parse(answered.body.ok as string)
    liege.proc.kill("SIGTERM")
    expect(await liege.exited).toBe(0)
    expect(otlp.exports.length).toBeGreaterThan(0)
    for (const e of otlp.exports) {
      expect(e.path).toBe("/custom/path")
      expect(e.contentType).toBe("application/x-protobuf")
    }
    const body = Buffer.concat(otlp.exports.map((e) => e.body))
    // ids are bytes in protobuf: the trace, the exec span the worker ran in, the service name
    expect(body.includes(Buffer.from(traceId, "hex"))).toBe(true)
    expect(body.includes(Buffer.from(seen.span!, "hex"))).toBe(true)
    expect(body.includes(Buffer.from("liege"))).toBe(true)
    expect(body.includes(Buffer.from("exec"))).toBe(true)
  }, 30_000)

  it("without an endpoint nothing is exported, and the worker gets the caller's traceparent as it came", async () => {
    const liege = await serve(["pool", "--workers", "1", "--listen", "127.0.0.1:0", ...worker])
    expect((await post(`${liege.url}/v1/jobs`, 1, { traceparent })).body.ok).toBe(traceparent)
    // no traceparent, or one that is not W3C: no trace
    expect((await post(`${liege.url}/v1/jobs`, 1)).body.ok).toBeNull()
    expect((await post(`${liege.url}/v1/jobs`, 1, { traceparent: "00-zz-yy-01" })).body.ok).toBeNull()
  }, 30_000)

  it("an endpoint that is not a URL, or an unknown protocol: exit 2, one line naming the variable", async () => {
    const bad = await serve(["pool", "--workers", "1", "--listen", "127.0.0.1:0", ...worker], { OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" }).then(
      () => "listened",
      (e: Error) => e.message
    )
    expect(bad).toMatch(/exited 2 before listening:\nliege: OTEL_EXPORTER_OTLP_ENDPOINT: not a URL: "not a url"\n$/)
    const proto = await serve(["pool", "--workers", "1", "--listen", "127.0.0.1:0", ...worker], {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc"
    }).then(() => "listened", (e: Error) => e.message)
    expect(proto).toMatch(/liege: OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not http\/protobuf or http\/json\n$/)
  }, 30_000)
})
