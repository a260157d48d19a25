/**
 * The HTTP server itself, with an app of the test's own: a handler that
 * dies (a bug in liege) is answered 500 and logged, never left hanging; a
 * body is whole (or refused) when its handler runs; a client that goes
 * away interrupts its handler.
 */
import * as http from "node:http"
import * as net from "node:net"
import { it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Logger, Queue } from "effect"
import { expect } from "vitest"
import { type App, listen } from "../../src/http/server.ts"
import { request } from "../support/http.ts"

/** A server on a free port serving `routes` (its status a bug: 500). */
const serving = (routes: App["routes"]) =>
  Effect.gen(function*() {
    const server = yield* listen({ listen: { host: "127.0.0.1", port: 0 }, token: undefined, maxBody: 1024, maxDepth: 8 })
    yield* server.start({ readiness: () => ({ ready: true }), metrics: () => [], status: Effect.die(new Error("no status")), routes })
    return server
  })

it.live("a handler that dies is answered 500 Internal, and the server goes on", () =>
  Effect.gen(function*() {
    const server = yield* serving([
        { method: "GET", pattern: "/boom", name: "boom", handle: () => Effect.die(new Error("a bug")) },
        { method: "GET", pattern: "/other", name: "other", handle: () => Effect.succeed({ status: 200, contentType: "text/plain", body: "fine" }) }
    ])
    const boom = yield* Effect.promise(() => request("GET", `${server.url}/boom`))
    expect(boom.status).toBe(500)
    expect(boom.body).toMatchObject({ error: { tag: "Internal" } })
    expect((yield* Effect.promise(() => request("GET", `${server.url}/v1/status`))).status).toBe(500)
    expect((yield* Effect.promise(() => request("GET", `${server.url}/other`))).status).toBe(200)
  }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))))

/** A request whose body is written by `write` (chunked unless told otherwise); its answer, or undefined once `abort` is called. */
const piecewise = (
  url: string,
  write: (req: http.ClientRequest) => Promise<void>,
  headers: Record<string, string> = {}
): Promise<{ status: number; body: any } | undefined> =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", agent: false, headers }, (res) => {
      let text = ""
      res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }))
    })
    req.on("error", (e) => (req.destroyed ? resolve(undefined) : reject(e)))
    write(req).catch(reject)
  })

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

it.live("a body that arrives in pieces is whole when the handler runs; --max-body is 413 however it comes; a client gone before its body was whole starts nothing", () =>
  Effect.gen(function*() {
    const seen: Array<unknown> = []
    const server = yield* listen({ listen: { host: "127.0.0.1", port: 0 }, token: undefined, maxBody: 64, maxDepth: 8 })
    yield* server.start({
      readiness: () => ({ ready: true }),
      metrics: () => [],
      status: Effect.die(new Error("no status")),
      routes: [{
        method: "POST",
        pattern: "/echo",
        name: "echo",
        handle: (request) => {
          const body = request.body()
          if (!("value" in body)) return Effect.succeed(body)
          seen.push(body.value)
          return Effect.succeed({ status: 200, contentType: "application/json", body: body.text })
        }
      }]
    })
    const url = `${server.url}/echo`
    const pieces = yield* Effect.promise(() =>
      piecewise(url, async (req) => {
        for (const piece of ['{"a":', "[1,", '2]}']) {
          req.write(piece)
          await pause(30)
        }
        req.end()
      })
    )
    expect(pieces).toEqual({ status: 200, body: { a: [1, 2] } })
    // chunked, past the limit: 413 without waiting for the end
    const chunked = yield* Effect.promise(() =>
      piecewise(url, async (req) => {
        req.write(`[${'"x",'.repeat(20)}`)
        await pause(30)
        req.write('"y"]')
        req.end()
      })
    )
    expect(chunked).toMatchObject({ status: 413, body: { error: { tag: "BodyTooLarge" } } })
    const declared = yield* Effect.promise(() => request("POST", url, "x".repeat(100), { "content-type": "application/json" }))
    expect(declared.status).toBe(413)
    // no body at all: the handler is told so
    expect((yield* Effect.promise(() => request("POST", url))).body).toMatchObject({ error: { tag: "BadBody", message: expect.stringMatching(/empty/) } })
    // a client that goes away mid-body
    const gone = yield* Effect.promise(() =>
      piecewise(url, async (req) => {
        req.write('{"never":')
        await pause(50)
        req.destroy()
      })
    )
    expect(gone).toBeUndefined()
    yield* Effect.sleep("100 millis")
    expect(seen).toEqual([{ a: [1, 2] }])
  }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))))

it.live("a client that goes away interrupts its handler; a handler that throws is 500; an answer that cannot be written closes its connection; a target that is not a path is 400, and the server goes on", () =>
  Effect.gen(function*() {
    const interrupted = yield* Deferred.make<void>()
    const started = yield* Deferred.make<void>()
    const server = yield* serving([
        {
          method: "POST",
          pattern: "/wait",
          name: "wait",
          handle: () => Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never), Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
        },
        {
          method: "GET",
          pattern: "/throws",
          name: "throws",
          handle: () => {
            throw new Error("a bug before any Effect")
          }
        },
        {
          method: "GET",
          pattern: "/unwritable",
          name: "unwritable",
          handle: () => Effect.succeed({ status: 200, contentType: "text/plain", body: "x", headers: { "x-bad": "a\nb" } })
        }
    ])
    yield* leaves(`${server.url}/wait`, Deferred.await(started))
    yield* Deferred.await(interrupted).pipe(Effect.timeout("5 seconds"))
    expect((yield* Effect.promise(() => request("GET", `${server.url}/throws`))).body).toMatchObject({ error: { tag: "Internal" } })
    // an answer Node refuses to write: the connection is closed, not left hanging
    const unwritable = yield* Effect.tryPromise(() => request("GET", `${server.url}/unwritable`, undefined, {}, 5000)).pipe(Effect.flip)
    expect(String(unwritable.cause)).toMatch(/socket hang up|ECONNRESET/)
    for (const target of ["//", "//:x/livez"]) {
      const r = yield* Effect.promise(() => rawTarget(server.url, target))
      expect(r, target).toMatch(/^HTTP\/1\.1 400 /)
    }
    expect((yield* Effect.promise(() => request("GET", `${server.url}/livez`))).status).toBe(200)
  }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))))

it.live("a direct route: answered from its callback, later or at once; a client that goes away cancels its work; one that throws is 500; one that passes goes to its handler", () =>
  Effect.gen(function*() {
    const cancelled = yield* Deferred.make<void>()
    // one each time a request reaches the direct route
    const arrived = yield* Queue.unbounded<void>()
    const later: Array<() => void> = []
    const handled = (body: string) => () => Effect.succeed({ status: 200, contentType: "text/plain", body })
    const server = yield* serving([
      {
        method: "POST",
        pattern: "/later",
        name: "later",
        handle: handled("by the handler"),
        direct: (request, traceparent, reply) => {
          if (request.search !== "") return "handle"
          later.push(() => reply({ status: 200, contentType: "text/plain", body: `later ${traceparent ?? "none"}` }))
          Queue.offerUnsafe(arrived, undefined)
          return () => Deferred.doneUnsafe(cancelled, Effect.void)
        }
      },
      {
        method: "POST",
        pattern: "/now",
        name: "now",
        handle: handled("by the handler"),
        direct: (_request, _traceparent, reply) => {
          reply({ status: 201, contentType: "text/plain", body: "at once" })
          return "replied"
        }
      },
      {
        method: "POST",
        pattern: "/throws",
        name: "throws",
        handle: handled("by the handler"),
        direct: () => {
          throw new Error("a bug in a direct route")
        }
      }
    ])
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    const answer = Effect.promise(() => request("POST", `${server.url}/later`, "{}", { traceparent }))
    const waiting = yield* Effect.forkChild(answer)
    yield* Queue.take(arrived)
    later.shift()!()
    const answered = yield* Fiber.join(waiting)
    expect([answered.status, answered.text]).toEqual([200, `later ${traceparent}`])
    expect((yield* Effect.promise(() => request("POST", `${server.url}/now`, "{}"))).status).toBe(201)
    expect((yield* Effect.promise(() => request("POST", `${server.url}/throws`, "{}"))).body).toMatchObject({ error: { tag: "Internal" } })
    expect((yield* Effect.promise(() => request("POST", `${server.url}/later?x=1`, "{}"))).text).toBe("by the handler")
    // a client that goes away before the answer: the route's cancel is called
    yield* leaves(`${server.url}/later`, Queue.take(arrived))
    yield* Deferred.await(cancelled).pipe(Effect.timeout("5 seconds"))
  }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))))

/** A client that posts `{}` to `url` and goes away once `reached` (its request got to the route): no answer. */
const leaves = (url: string, reached: Effect.Effect<unknown>) =>
  Effect.promise(() =>
    piecewise(url, async (req) => {
      req.end("{}")
      await Effect.runPromise(reached)
      req.destroy()
    })
  ).pipe(Effect.map((answer) => expect(answer).toBeUndefined()))

/** The status line and the rest of the answer to `GET TARGET` written as it is. */
const rawTarget = (url: string, target: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url)
    const socket = net.connect(Number(port), hostname, () => socket.end(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`))
    let text = ""
    socket.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => resolve(text)).on("error", reject)
  })

it.live("reusePort: two servers on one address share its connections; without it the second is ListenFailed", () =>
  Effect.gen(function*() {
    const app = (name: string): App => ({
      readiness: () => ({ ready: true }),
      metrics: () => [],
      status: Effect.die(new Error("no status")),
      routes: [{ method: "GET", pattern: "/who", name: "who", handle: () => Effect.succeed({ status: 200, contentType: "text/plain", body: name }) }]
    })
    const a = yield* listen({ listen: { host: "127.0.0.1", port: 0 }, token: undefined, maxBody: 1024, maxDepth: 8, reusePort: true })
    const port = Number(new URL(a.url).port)
    const b = yield* listen({ listen: { host: "127.0.0.1", port }, token: undefined, maxBody: 1024, maxDepth: 8, reusePort: true })
    yield* a.start(app("a"))
    yield* b.start(app("b"))
    const seen = new Set<string>()
    for (let i = 0; i < 64 && seen.size < 2; i++) seen.add((yield* Effect.promise(() => request("GET", `${a.url}/who`))).text)
    expect([...seen].sort()).toEqual(["a", "b"])
    const refused = yield* Effect.flip(listen({ listen: { host: "127.0.0.1", port }, token: undefined, maxBody: 1024, maxDepth: 8 }))
    expect(refused.reason).toBe("address already in use")
  }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))))
