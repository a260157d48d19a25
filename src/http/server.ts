/**
 * The HTTP front shared by `liege serf` and `liege pool` (SPEC §8), on
 * Node's own `http` server with Effect at the edges:
 *
 * - the address is bound first (`listen`), before any worker is spawned; a
 *   port in use or an address that is not local is `ListenFailed`, naming
 *   the address and the reason; until the app is attached (`start`), every
 *   route but the probes answers 503 `NotReady`;
 * - the probes never need the token: `GET /livez` answers 200 whenever this
 *   loop answers (booting, replaying, restarting, failed, draining alike);
 *   `GET /readyz` 200 `{"ready": true}` when able to serve, else 503
 *   `{"ready": false, "why"}` saying why; `GET /healthz` the same question,
 *   answered `{"ok": bool}`;
 * - `drain` (SIGTERM): the socket stays open, so that a load balancer sees
 *   503s rather than refused connections: every app route answers 503
 *   `ShuttingDown` (with `Connection: close`), `/readyz` and `/healthz` 503,
 *   `/livez` 200; status and metrics are still served;
 * - `GET /ui`: the status page (no data in it, so no token either); `GET
 *   /v1/status` and `/v1/status/stream`: the status document, once or pushed;
 * - `GET /metrics`: Prometheus text: the app's families, HTTP requests by
 *   route and status, and the process's own metrics;
 * - everything else goes to the app's routes, behind `Authorization: Bearer T`
 *   when a token is set (401 otherwise);
 * - errors are `{"error": {"tag", "message", …}}`, never a stack.
 *
 * An app route's handler runs once the request's body has arrived (read by
 * plain listeners, at most `--max-body` of it), as a fiber of the server's
 * `FiberSet`; its answer is written when the fiber ends. A client that
 * closes its connection before its answer interrupts it (a pool request is
 * cancelled). A route's hot path may be `direct` instead (a pool's job, a
 * serf's event; unless spans are on): no fiber, the route calls back
 * with its answer, and a client that goes away cancels the work the same
 * way. The scope's close ends the server.
 */
import { timingSafeEqual } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Cause, Effect, type Exit, type Fiber, FiberSet, Schema, type Scope, Stream } from "effect"
import { ReloadFailed } from "../errors.ts"
import * as Trace from "../internal/trace.ts"
import type { Listen } from "../cli/args.ts"
import { type Body, type BodyLimits, checkJson, collect, isRefusal, NO_BODY } from "./body.ts"
import { answerOf } from "./errors.ts"
import { errorResponse, ok, type Response } from "./response.ts"
import { type Match, parseTarget, type Route, type RouteRequest, table } from "./routes.ts"
import { format, type Family } from "./prometheus.ts"
import { processFamilies } from "./process.ts"
import { page } from "../status/page/index.ts"
import { makeStatusStream } from "./stream.ts"
import { notReady as notReadyBecause, type Readiness, type Status } from "../status/document.ts"

export { errorResponse, ok, type Response } from "./response.ts"

export type { Route, RouteRequest } from "./routes.ts"

export interface App {
  readonly readiness: () => Readiness
  readonly metrics: () => ReadonlyArray<Family>
  /** The status document (SPEC §10): `GET /v1/status` and its stream. */
  readonly status: Effect.Effect<Status>
  /** Its routes (the server adds the probes, the page, metrics and status). */
  readonly routes: ReadonlyArray<Route>
  /**
   * Replaces its workers or its serf with new ones of the same command
   * (SPEC §5, §8): `POST /v1/reload` and SIGHUP. Its answer's body, or why
   * it failed (what served before goes on).
   */
  readonly reload?: Effect.Effect<Record<string, unknown>, ReloadFailed> | undefined
}

export interface ServerOptions extends BodyLimits {
  readonly listen: Listen
  readonly token: string | undefined
  /**
   * Record a server span for each request to the app's routes (SPEC §8
   * Tracing), continuing the request's `traceparent`. Without it, a
   * request's `traceparent` is still handed on as it is.
   */
  readonly spans?: boolean | undefined
  /**
   * Bind with `SO_REUSEPORT` (Linux): several liege processes that all ask
   * for it share one address, and the kernel spreads connections among
   * them. Without it (the default) an address in use is `ListenFailed`.
   */
  readonly reusePort?: boolean | undefined
}

export interface Server {
  /** `http://HOST:PORT`, with the port actually bound. */
  readonly url: string
  /** Attaches the app: from now on its routes are served. */
  readonly start: (app: App) => Effect.Effect<void>
  /** The app's reload (SPEC §5, §8), as `POST /v1/reload` does it: SIGHUP's. */
  readonly reload: Effect.Effect<Record<string, unknown>, ReloadFailed>
  /**
   * liege is stopping: new requests to the app get 503 `ShuttingDown`, the
   * readiness probes 503; requests already accepted go on. The socket stays
   * open until the scope closes.
   */
  readonly drain: Effect.Effect<void>
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
const draining = {
  ...errorResponse(503, "ShuttingDown", "liege is stopping: it takes no new requests"),
  headers: { connection: "close" }
}
const starting = notReadyBecause("liege is starting")
const stopping = notReadyBecause("liege is stopping (draining what it accepted)")

const badTarget = errorResponse(400, "BadPath", "the request target is not a path")
const internal = errorResponse(500, "Internal", "liege failed to answer this request; see its log")

/** One request being answered: its response, and the fiber answering it (a client that goes away interrupts it). */
interface Exchange {
  readonly res: http.ServerResponse
  readonly name: string
  fiber: Fiber.Fiber<unknown, unknown> | undefined
}

/** What a handler is given; the query is parsed, and the body checked, when first asked for. */
class Incoming implements RouteRequest {
  readonly method: string
  readonly path: string
  readonly search: string
  readonly headers: http.IncomingHttpHeaders
  readonly params: Readonly<Record<string, string>>
  readonly rest: ReadonlyArray<string>
  readonly #bytes: Buffer | Response
  readonly #maxDepth: number
  #checked: Body | Response | undefined = undefined
  #query: URLSearchParams | undefined = undefined

  constructor(
    method: string,
    path: string,
    search: string,
    headers: http.IncomingHttpHeaders,
    found: Extract<Match, { _tag: "Found" }>,
    bytes: Buffer | Response,
    maxDepth: number
  ) {
    this.method = method
    this.path = path
    this.search = search
    this.headers = headers
    this.params = found.params
    this.rest = found.rest
    this.#bytes = bytes
    this.#maxDepth = maxDepth
  }

  get query(): URLSearchParams {
    return this.#query ??= new URLSearchParams(this.search)
  }

  body(): Body | Response {
    return this.#checked ??= Buffer.isBuffer(this.#bytes) ? checkJson(this.#bytes, this.#maxDepth) : this.#bytes
  }

  get json(): Effect.Effect<Body, Response> {
    const checked = this.body()
    return isRefusal(checked) ? Effect.fail(checked) : Effect.succeed(checked)
  }
}

const send = (res: http.ServerResponse, r: Response) => {
  if (res.headersSent || res.destroyed) return
  res.writeHead(r.status, { ...r.headers, "content-type": r.contentType, "content-length": Buffer.byteLength(r.body) })
  res.end(r.body)
}

/**
 * Writes an event stream: its first text, then each event as the client
 * takes it (a slow client slows the stream: the next event is pulled once
 * the socket has drained), then the end. A client that goes away ends it.
 */
const streamOut = (res: http.ServerResponse, r: Response, events: Stream.Stream<string>): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (res.headersSent || res.destroyed) return
    res.writeHead(r.status, { ...r.headers, "content-type": r.contentType, "cache-control": "no-cache", "x-accel-buffering": "no" })
    if (r.body !== "") res.write(r.body)
    yield* Stream.runForEach(events, (text) =>
      res.write(text) || res.destroyed
        ? Effect.void
        : Effect.callback<void>((resume) => {
          const go = () => {
            res.off("drain", go)
            res.off("close", go)
            resume(Effect.void)
          }
          res.once("drain", go)
          res.once("close", go)
        }))
    if (!res.destroyed) res.end()
  })

/** Binds `options.listen` and serves; routes are answered once `start` gave the app. */
export const listen = (options: ServerOptions): Effect.Effect<Server, ListenFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const run = yield* FiberSet.makeRuntime<never, unknown, never>()
    const expected = options.token === undefined ? undefined : Buffer.from(options.token)
    /** Answers by route name, then status. */
    const requests = new Map<string, Map<number, number>>()
    let app: App | undefined
    let drained = false
    const readiness = (): Readiness => drained ? stopping : app === undefined ? starting : app.readiness()

    const count = (route: string, status: number) => {
      let byStatus = requests.get(route)
      if (byStatus === undefined) requests.set(route, byStatus = new Map())
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1)
    }

    const metrics = (current: App | undefined): string =>
      format([
        ...(current?.metrics() ?? []),
        {
          name: "liege_http_requests_total",
          help: "HTTP requests answered, by route and status",
          type: "counter",
          samples: [...requests].flatMap(([route, byStatus]) =>
            [...byStatus].map(([status, value]) => ({ labels: { route, status: String(status) }, value }))
          )
        },
        ...processFamilies()
      ])

    const answer = (res: http.ServerResponse, route: string, r: Response) => {
      count(route, r.status)
      send(res, r)
    }

    /** The server's own routes: the probes, the page, metrics and status. */
    const builtins: ReadonlyArray<Route> = [
      { method: "GET", pattern: "/livez", name: "livez", open: true, handle: () => Effect.succeed(ok({ live: true })) },
      {
        method: "GET",
        pattern: "/readyz",
        name: "readyz",
        open: true,
        handle: () => Effect.sync(() => {
          const now = readiness()
          return ok(now, now.ready ? 200 : 503)
        })
      },
      {
        method: "GET",
        pattern: "/healthz",
        name: "healthz",
        open: true,
        handle: () => Effect.sync(() => {
          const healthy = readiness().ready
          return ok({ ok: healthy }, healthy ? 200 : 503)
        })
      },
      // the page holds no data: it asks for the token itself and sends it with every data request
      { method: "GET", pattern: "/ui", name: "ui", open: true, handle: () => Effect.succeed({ status: 200, contentType: "text/html; charset=utf-8", body: page }) },
      {
        method: "GET",
        pattern: "/metrics",
        name: "metrics",
        handle: () => Effect.sync(() => ({ status: 200, contentType: "text/plain; version=0.0.4", body: metrics(app) }))
      },
      { method: "GET", pattern: "/v1/status", name: "status", handle: () => app === undefined ? Effect.succeed(notReady) : Effect.map(app.status, ok) },
      {
        method: "GET",
        pattern: "/v1/status/stream",
        name: "status_stream",
        handle: () => Effect.succeed(app === undefined ? notReady : { status: 200, contentType: "text/event-stream", body: "", raw: stream.listen })
      }
    ]
    let match = table(builtins)

    const builtin = new Set(builtins)

    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const target = parseTarget(req.url ?? "/")
      if (target === undefined) {
        req.resume()
        return answer(res, "unmatched", badTarget)
      }
      const { path, search } = target
      const method = req.method ?? "GET"
      const found = match(method, path)
      const open = found._tag === "Found" && found.route.open === true
      if (!open && expected !== undefined && !tokenMatches(expected, req.headers.authorization)) {
        req.resume()
        return answer(res, "unauthorized", errorResponse(401, "Unauthorized", "send Authorization: Bearer <token>"))
      }
      if (found._tag === "Refused") {
        req.resume()
        // until the app is attached, its routes are not known yet: not ready, rather than not found
        return app === undefined ? answer(res, "unready", notReady) : answer(res, found.name, found.response)
      }
      const { route } = found
      if (route.work === true && drained) {
        req.resume()
        return answer(res, route.name, draining)
      }
      const headers = req.headers
      // the server's own routes read no body; a request without Content-Length or Transfer-Encoding has none
      if (builtin.has(route) || (headers["content-length"] === undefined && headers["transfer-encoding"] === undefined)) {
        return begin(req, res, route, new Incoming(method, path, search, headers, found, NO_BODY, options.maxDepth))
      }
      collect(req, options.maxBody, (bytes) => {
        // a client that went away before its body was whole has nothing to be answered
        if (!res.destroyed) begin(req, res, route, new Incoming(method, path, search, headers, found, bytes, options.maxDepth))
      })
    }

    /**
     * Runs a route's handler as a fiber of the server's set and answers with
     * its response when it ends. An app route's answer is in the request's
     * trace: the `traceparent` it came with (W3C) is its parent; with `spans`
     * on, it runs in a server span.
     */
    const begin = (req: http.IncomingMessage, res: http.ServerResponse, route: Route, request: Incoming) => {
      if (route.direct !== undefined && options.spans !== true && beginDirect(req, res, route, request)) return
      let handled: Effect.Effect<Response>
      try {
        handled = route.handle(request)
      } catch (e) {
        handled = Effect.die(e)
      }
      const own = builtin.has(route)
      const exchange: Exchange = { res, name: route.name, fiber: undefined }
      if (options.spans === true && !own) {
        const parent = spanParent(req)
        exchange.fiber = run(Effect.withSpan(answering(exchange, handled), `${request.method} ${route.pattern}`, {
          kind: "server",
          ...(parent === undefined ? {} : { parent }),
          attributes: { "http.request.method": request.method, "http.route": route.pattern, "url.path": req.url ?? "/" }
        }))
      } else {
        const parent = own ? undefined : spanParent(req)
        const fiber = run(parent === undefined ? handled : Effect.withParentSpan(handled, parent))
        exchange.fiber = fiber
        fiber.addObserver((exit) => settle(exchange, exit))
      }
      // a client that goes away before its answer interrupts the handler (or the stream writing it)
      res.on("close", () => {
        if (!res.writableFinished) exchange.fiber?.interruptUnsafe()
      })
    }

    /** `begin` for a route's direct path: no fiber; the route calls `reply` once. */
    const beginDirect = (req: http.IncomingMessage, res: http.ServerResponse, route: Route, request: Incoming): boolean => {
      const exchange: Exchange = { res, name: route.name, fiber: undefined }
      let replied = false
      const reply = (r: Response) => {
        if (replied) return
        replied = true
        respond(exchange, r)
      }
      const parent = spanParent(req)
      let cancel: (() => void) | "replied" | "handle"
      try {
        cancel = route.direct!(request, parent === undefined ? undefined : Trace.traceparent(parent), reply)
      } catch (e) {
        // a bug: answered 500, never left hanging
        run(Effect.logError(`${route.name}: the handler failed`, e))
        reply(internal)
        return true
      }
      if (cancel === "handle") return false
      // a client that goes away before its answer cancels the work
      if (typeof cancel === "function" && !replied) {
        res.on("close", () => {
          if (!replied) cancel()
        })
      }
      return true
    }

    const spanParent = (req: http.IncomingMessage) => Trace.fromTraceparent(req.headers["traceparent"])

    /**
     * The handler ended: its response is written; a handler that died (a bug)
     * is answered 500, never left hanging. This runs where the fiber ended
     * (inside whatever resumed it, the pool's answer say): nothing thrown
     * here goes back there — an answer that cannot be written is logged and
     * its connection closed.
     */
    const settle = (exchange: Exchange, exit: Exit.Exit<Response>) => {
      if (exit._tag === "Success") return respond(exchange, exit.value)
      if (Cause.hasInterruptsOnly(exit.cause)) return
      run(Effect.logError(`${exchange.name}: the handler failed`, exit.cause))
      respond(exchange, internal)
    }

    /** Writes a response: at once, or (an event stream) in a fiber of its own that the client's going away interrupts. */
    const respond = (exchange: Exchange, r: Response) => {
      count(exchange.name, r.status)
      try {
        if (r.raw !== undefined) r.raw(exchange.res)
        else if (r.events !== undefined) exchange.fiber = run(streamOut(exchange.res, r, r.events))
        else send(exchange.res, r)
      } catch (e) {
        run(Effect.logError(`${exchange.name}: the answer could not be written`, e))
        exchange.res.destroy()
      }
    }

    /** With `spans` on: the handler, then its answer, in the request's span. */
    const answering = (exchange: Exchange, handle: Effect.Effect<Response>) =>
      handle.pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.failCause(cause)
            : Effect.as(Effect.logError(`${exchange.name}: the handler failed`, cause), internal)
        ),
        Effect.flatMap((r) =>
          Effect.andThen(
            Effect.annotateCurrentSpan("http.response.status_code", r.status),
            r.events !== undefined
              ? Effect.suspend(() => {
                count(exchange.name, r.status)
                return streamOut(exchange.res, r, r.events!)
              })
              : Effect.sync(() => respond(exchange, r))
          )
        )
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
        node.listen({ port: options.listen.port, host: options.listen.host, reusePort: options.reusePort === true }, () => {
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
        const reload: ReadonlyArray<Route> = given.reload === undefined ? [] : [{
          method: "POST",
          pattern: "/v1/reload",
          name: "reload",
          work: true,
          handle: () => given.reload!.pipe(Effect.map((body) => ok(body)), Effect.catch((e) => Effect.succeed(answerOf(e))))
        }]
        match = table([...builtins, ...given.routes, ...reload])
      }),
      reload: Effect.suspend(() => {
        if (drained) return Effect.fail(new ReloadFailed({ reason: "liege is stopping" }))
        if (app === undefined) return Effect.fail(new ReloadFailed({ reason: "liege is still starting" }))
        if (app.reload === undefined) return Effect.fail(new ReloadFailed({ reason: "this server has nothing to reload" }))
        return app.reload
      }),
      drain: Effect.sync(() => {
        drained = true
        // idle keep-alive connections go now; the next request on a busy one is told to close it
        node.closeIdleConnections()
      })
    }
  })
