/**
 * An OTLP/HTTP trace receiver on 127.0.0.1 for tests (SPEC §8 Tracing): it
 * keeps every export's body and content type; JSON bodies are read into
 * spans (`resourceSpans` → `scopeSpans` → `spans`, with the resource's
 * `service.name`). Closed when the test ends.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { onTestFinished } from "vitest"

export interface ReceivedSpan {
  readonly service: string | undefined
  readonly name: string
  readonly kind: number
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Record<string, unknown>
  readonly status: number | undefined
}

export interface Export {
  readonly path: string
  readonly contentType: string
  readonly body: Buffer
}

export interface Receiver {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly exports: Array<Export>
  /** The spans of every JSON export so far. */
  readonly spans: () => Array<ReceivedSpan>
}

const valueOf = (v: Record<string, unknown>): unknown =>
  v["stringValue"] ?? v["intValue"] ?? v["doubleValue"] ?? v["boolValue"]

const attributesOf = (list: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const a of (list ?? []) as Array<{ key: string; value: Record<string, unknown> }>) out[a.key] = valueOf(a.value)
  return out
}

export const receiver = (): Promise<Receiver> =>
  new Promise((resolve) => {
    const exports: Array<Export> = []
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        exports.push({ path: req.url ?? "", contentType: req.headers["content-type"] ?? "", body: Buffer.concat(chunks) })
        res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/json" })
        res.end(req.headers["content-type"]?.includes("json") ? "{}" : "")
      })
    })
    const spans = () =>
      exports.filter((e) => e.contentType.includes("json")).flatMap((e) => {
        const data = JSON.parse(e.body.toString("utf8")) as { resourceSpans: Array<any> }
        return data.resourceSpans.flatMap((rs) => {
          const service = attributesOf(rs.resource?.attributes)["service.name"] as string | undefined
          return (rs.scopeSpans as Array<any>).flatMap((ss) =>
            (ss.spans as Array<any>).map((s): ReceivedSpan => ({
              service,
              name: s.name,
              kind: s.kind,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId === "" ? undefined : s.parentSpanId,
              attributes: attributesOf(s.attributes),
              status: s.status?.code
            }))
          )
        })
      })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      onTestFinished(() => new Promise<void>((r) => server.close(() => r())))
      resolve({ url: `http://127.0.0.1:${port}`, exports, spans })
    })
  })
