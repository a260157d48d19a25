/**
 * The HTTP front shared by `liege serf` and `liege pool` (SPEC §8), on
 * Node's own `http` server with Effect at the edges:
 *
 * - the address is bound first (`listen`), before any worker is spawned; a
 *   port in use or an address that is not local is `ListenFailed`, naming
 *   the address and the reason; until the app is attached (`start`), every
 *   route but `/healthz` (503) answers 503 `NotReady`;
 * - `GET /healthz`: 200 when able to serve, 503 otherwise (never needs the token);
 * - `GET /ui`: the status page (no data in it, so no token either); `GET
 *   /v1/status` and `/v1/status/stream`: the status document, once or pushed;
 * - `GET /metrics`: Prometheus text: the app's families, HTTP requests by
 *   route and status, and the process's own metrics;
 * - everything else goes to the app's routes, behind `Authorization: Bearer T`
 *   when a token is set (401 otherwise);
 * - errors are `{"error": {"tag", "message", …}}`, never a stack.
 *
 * Every request's handler is a fiber of the server's `FiberSet`; a client
 * that closes its connection before its answer interrupts it (a pool
 * request is cancelled). `stopAccepting` closes the listening socket
 * (requests already accepted go on); the scope's close ends the server.
 */
import { timingSafeEqual } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Cause, Effect, FiberSet, Schema, type Scope } from "effect"
import type { Listen } from "../cli/args.ts"
import { type BodyLimits, readJson } from "./body.ts"
import { errorResponse, ok, type Response } from "./response.ts"
import { format, type Family } from "./prometheus.ts"
import { processFamilies } from "./process.ts"
import { page } from "../status/page.ts"
import { makeStatusStream } from "./stream.ts"
import type { Status } from "../status/document.ts"

export { errorResponse, ok, type Response } from "./response.ts"

export interface Request {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  /** The body as JSON, checked (size, UTF-8, Unicode, depth); the failure is the response to send. */
  readonly json: Effect.Effect<{ readonly value: unknown; readonly text: string }, Response>
}

export interface Route {
  /** The route's name in `liege_http_requests_total`. */
  readonly name: string
  readonly handle: Effect.Effect<Response>
}

export interface App {
  readonly healthy: () => boolean
  readonly metrics: () => ReadonlyArray<Family>
  /** The status document (SPEC §10): `GET /v1/status` and its stream. */
  readonly status: Effect.Effect<Status>
  readonly route: (request: Request) => Route | undefined
}

export interface ServerOptions extends BodyLimits {
  readonly listen: Listen
  readonly token: string | undefined
}

export interface Server {
  /** `http://HOST:PORT`, with the port actually bound. */
  readonly url: string
  /** Attaches the app: from now on its routes are served. */
  readonly start: (app: App) => Effect.Effect<void>
  /** Stops accepting connections; requests already accepted go on. */
  readonly stopAccepting: Effect.Effect<void>
}

/** The address could not be bound. */
export class ListenFailed extends Schema.TaggedError<ListenFailed>()("ListenFailed", {
  address: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot listen on ${this.address}: ${this.reason}`
  }
}

/** Why an address could not be bound, in words. */
export const reasonOf = (e: NodeJS.ErrnoException): string => {
  switch (e.code) {
    case "EADDRINUSE":
      return "address already in use"
    case "EADDRNOTAVAIL":
      return "address not available (not an address of this machine)"
    case "EACCES":
      return "permission denied"
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "no such host"
    default:
      return e.message
  }
}

const tokenMatches = (expected: Buffer, header: string | undefined): boolean => {
  if (header === undefined || !header.startsWith("Bearer ")) return false
  const given = Buffer.from(header.slice(7))
  return given.length === expected.length && timingSafeEqual(given, expected)
}

const notReady = errorResponse(503, "NotReady", "liege is starting: not serving yet")

const send = (res: http.ServerResponse, r: Response) => {
  if (res.headersSent || res.destroyed) return
  res.writeHead(r.status, { ...r.headers, "content-type": r.contentType, "content-length": Buffer.byteLength(r.body) })
  res.end(r.body)
}

/** Binds `options.listen` and serves; routes are answered once `start` gave the app. */
export const listen = (options: ServerOptions): Effect.Effect<Server, ListenFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const expected = options.token === undefined ? undefined : Buffer.from(options.token)
    const requests = new Map<string, number>()
    let app: App | undefined

    const count = (route: string, status: number) => {
      const key = `${route}\u0000${status}`
      requests.set(key, (requests.get(key) ?? 0) + 1)
    }

    const metrics = (current: App | undefined): string =>
      format([
        ...(current?.metrics() ?? []),
        {
          name: "liege_http_requests_total",
          help: "HTTP requests answered, by route and status",
          type: "counter",
          samples: [...requests].map(([key, value]) => {
            const [route, status] = key.split("\u0000")
            return { labels: { route: route!, status: status! }, value }
          })
        },
        ...processFamilies()
      ])

    const answer = (res: http.ServerResponse, route: string, r: Response) => {
      count(route, r.status)
      send(res, r)
    }

    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://liege")
      const path = url.pathname
      if (path === "/healthz" && req.method === "GET") {
        const healthy = app?.healthy() ?? false
        return answer(res, "healthz", ok({ ok: healthy }, healthy ? 200 : 503))
      }
      if (path === "/ui" && req.method === "GET") {
        // the page holds no data: it asks for the token itself and sends it with every data request
        return answer(res, "ui", { status: 200, contentType: "text/html; charset=utf-8", body: page })
      }
      if (expected !== undefined && !tokenMatches(expected, req.headers.authorization)) {
        req.resume()
        return answer(res, "unauthorized", errorResponse(401, "Unauthorized", "send Authorization: Bearer <token>"))
      }
      if (path === "/metrics" && req.method === "GET") {
        return answer(res, "metrics", { status: 200, contentType: "text/plain; version=0.0.4", body: metrics(app) })
      }
      if (app === undefined) {
        req.resume()
        return answer(res, "unready", notReady)
      }
      if (path === "/v1/status" && req.method === "GET") {
        const current = app
        run(answering(res, "status", Effect.map(current.status, ok)))
        return
      }
      if (path === "/v1/status/stream" && req.method === "GET") {
        count("status_stream", 200)
        return stream.listen(res)
      }
      const request: Request = {
        method: req.method ?? "GET",
        path,
        query: url.searchParams,
        json: readJson(req, options)
      }
      const route = app.route(request)
      if (route === undefined) {
        req.resume()
        return answer(res, "unmatched", errorResponse(404, "NotFound", `no route for ${request.method} ${path}`))
      }
      const fiber = run(answering(res, route.name, route.handle))
      // a client that goes away before its answer interrupts the handler
      res.once("close", () => {
        if (!res.writableFinished) fiber.interruptUnsafe()
      })
    }

    /** Answers with the handler's response; a handler that dies (a bug) is answered 500, never left hanging. */
    const answering = (res: http.ServerResponse, name: string, handle: Effect.Effect<Response>) =>
      handle.pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.failCause(cause)
            : Effect.as(Effect.logError(`${name}: the handler failed`, cause), errorResponse(500, "Internal", "liege failed to answer this request; see its log"))
        ),
        Effect.flatMap((r) => Effect.sync(() => answer(res, name, r)))
      )

    const stream = makeStatusStream((publish) => {
      if (app !== undefined) run(Effect.map(app.status, publish))
    })
    const node = http.createServer(onRequest)
    const address = `${options.listen.host.includes(":") ? `[${options.listen.host}]` : options.listen.host}:${options.listen.port}`
    yield* Effect.acquireRelease(
      Effect.callback<void, ListenFailed>((resume) => {
        const onError = (e: NodeJS.ErrnoException) => resume(Effect.fail(new ListenFailed({ address, reason: reasonOf(e) })))
        node.once("error", onError)
        node.listen(options.listen.port, options.listen.host, () => {
          node.off("error", onError)
          node.on("error", (e) => run(Effect.logWarning(`http server: ${e.message}`)))
          resume(Effect.void)
        })
      }),
      () =>
        Effect.callback<void>((resume) => {
          stream.close()
          // answers already being written get a moment; idle keep-alive sockets go at once
          const force = setTimeout(() => node.closeAllConnections(), 1000)
          node.close(() => {
            clearTimeout(force)
            resume(Effect.void)
          })
          node.closeIdleConnections()
        })
    )
    const bound = node.address() as AddressInfo
    const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address
    return {
      url: `http://${host}:${bound.port}`,
      start: (given) => Effect.sync(() => {
        app = given
      }),
      stopAccepting: Effect.sync(() => {
        stream.close()
        node.close()
        node.closeIdleConnections()
      })
    }
  })
