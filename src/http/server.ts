/**
 * The HTTP front shared by `liege serf` and `liege pool` (SPEC §8), on
 * `effect/http` with Node's server:
 *
 * - `GET /healthz`: 200 when able to serve, 503 otherwise (never needs the token);
 * - `GET /metrics`: Prometheus text;
 * - everything else goes to the subcommand's routes, behind
 *   `Authorization: Bearer T` when a token is set (401 otherwise);
 * - JSON bodies are bounded by `maxBody` (413 above it; empty or not JSON: 400);
 * - errors are `{"error": {"tag", "message", …}}`.
 *
 * A client that closes its connection interrupts its request (a pool request
 * is cancelled). `stopAccepting` closes the listening socket (requests
 * already accepted go on); the scope's close ends the server.
 */
import { timingSafeEqual } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, type Scope } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"

export interface Listen {
  readonly host: string
  readonly port: number
}

/** `HOST:PORT` (IPv6 in brackets: `[::1]:7070`); undefined when it is not one. */
export const parseListen = (text: string): Listen | undefined => {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim())
  if (m === null) return undefined
  const port = Number(m[3])
  if (port > 65535) return undefined
  return { host: m[1] ?? m[2]!, port }
}

export const errorResponse = (status: number, tag: string, message: string, extra: Record<string, unknown> = {}) =>
  HttpServerResponse.jsonUnsafe({ error: { tag, message, ...extra } }, { status })

export const ok = (body: unknown, status = 200) => HttpServerResponse.jsonUnsafe(body, { status })

/** Reads a JSON body of at most `maxBody` bytes; the failure is the response to send. */
export const readJson = (
  request: HttpServerRequest.HttpServerRequest,
  maxBody: number
): Effect.Effect<{ readonly value: unknown; readonly text: string }, HttpServerResponse.HttpServerResponse> =>
  Effect.gen(function*() {
    const tooLarge = errorResponse(413, "BodyTooLarge", `the body is larger than ${maxBody} bytes (--max-body)`)
    const declared = Number(request.headers["content-length"] ?? NaN)
    if (declared > maxBody) return yield* Effect.fail(tooLarge)
    const source = (request as unknown as { source: http.IncomingMessage }).source
    const text = yield* Effect.callback<string, HttpServerResponse.HttpServerResponse>((resume) => {
      const chunks: Array<Buffer> = []
      let size = 0
      source.on("data", (c: Buffer) => {
        size += c.length
        if (size > maxBody) {
          source.removeAllListeners("data")
          source.resume()
          return resume(Effect.fail(tooLarge))
        }
        chunks.push(c)
      })
      source.on("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
      source.on("error", (e) => resume(Effect.fail(errorResponse(400, "BadBody", `cannot read the body: ${e.message}`))))
    })
    if (text.trim() === "") return yield* Effect.fail(errorResponse(400, "BadBody", "the body is empty; send JSON"))
    try {
      return { value: JSON.parse(text) as unknown, text }
    } catch (e) {
      return yield* Effect.fail(errorResponse(400, "BadBody", `the body is not JSON: ${(e as Error).message}`))
    }
  })

export type Route = (
  request: HttpServerRequest.HttpServerRequest,
  path: string,
  query: URLSearchParams
) => Effect.Effect<HttpServerResponse.HttpServerResponse> | undefined

export interface App {
  readonly healthy: () => boolean
  readonly metrics: () => string
  readonly route: Route
}

export interface ServerOptions {
  readonly listen: Listen
  readonly token: string | undefined
}

export interface Server {
  /** `http://HOST:PORT`, with the port actually bound. */
  readonly url: string
  /** Stops accepting connections; requests already accepted go on. */
  readonly stopAccepting: Effect.Effect<void>
}

const tokenMatches = (expected: Buffer, header: string | undefined): boolean => {
  if (header === undefined || !header.startsWith("Bearer ")) return false
  const given = Buffer.from(header.slice(7))
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export const serve = (app: App, options: ServerOptions): Effect.Effect<Server, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const node = http.createServer()
    const server = yield* NodeHttpServer.make(() => node, {
      host: options.listen.host,
      port: options.listen.port,
      gracefulShutdownTimeout: 1000
    })
    const expected = options.token === undefined ? undefined : Buffer.from(options.token)
    const handler = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const url = new URL(request.url, "http://liege")
      const path = url.pathname
      if (path === "/healthz" && request.method === "GET") {
        return Effect.succeed(app.healthy() ? ok({ ok: true }) : ok({ ok: false }, 503))
      }
      if (expected !== undefined && !tokenMatches(expected, request.headers.authorization)) {
        return Effect.succeed(errorResponse(401, "Unauthorized", "send Authorization: Bearer <token>"))
      }
      if (path === "/metrics" && request.method === "GET") {
        return Effect.succeed(HttpServerResponse.text(app.metrics(), { contentType: "text/plain; version=0.0.4" }))
      }
      const routed = app.route(request, path, url.searchParams)
      if (routed === undefined) return Effect.succeed(errorResponse(404, "NotFound", `no route for ${request.method} ${path}`))
      // effect/http runs handlers uninterruptibly; a client that goes away must cancel its request
      return Effect.interruptible(routed)
    })
    yield* server.serve(handler)
    const address = node.address() as AddressInfo
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address
    return {
      url: `http://${host}:${address.port}`,
      stopAccepting: Effect.sync(() => {
        node.close()
        node.closeIdleConnections()
      })
    }
  })
