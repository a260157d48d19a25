/**
 * The HTTP server itself, with an app of the test's own: a handler that
 * dies (a bug in liege) is answered 500 and logged, never left hanging.
 */
import { it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { expect } from "vitest"
import { listen } from "../../src/http/server.ts"
import { request } from "../support/http.ts"

it.live("a handler that dies is answered 500 Internal, and the server goes on", () =>
  Effect.gen(function*() {
    const server = yield* listen({ listen: { host: "127.0.0.1", port: 0 }, token: undefined, maxBody: 1024, maxDepth: 8 })
    yield* server.start({
      readiness: () => ({ ready: true }),
      metrics: () => [],
      status: Effect.die(new Error("no status")),
      routes: [
        { method: "GET", pattern: "/boom", name: "boom", handle: () => Effect.die(new Error("a bug")) },
        { method: "GET", pattern: "/other", name: "other", handle: () => Effect.succeed({ status: 200, contentType: "text/plain", body: "fine" }) }
      ]
    })
    const boom = yield* Effect.promise(() => request("GET", `${server.url}/boom`))
    expect(boom.status).toBe(500)
    expect(boom.body).toMatchObject({ error: { tag: "Internal" } })
    expect((yield* Effect.promise(() => request("GET", `${server.url}/v1/status`))).status).toBe(500)
    expect((yield* Effect.promise(() => request("GET", `${server.url}/other`))).status).toBe(200)
  }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))))
