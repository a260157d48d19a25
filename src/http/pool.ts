/**
 * The routes of `liege pool` (SPEC §8):
 *
 * - `POST /v1/jobs` — the payload, run now: `200 {"ok": result}` or
 *   `{"error": {"tag", "message", …}}` with Busy/PoolFailed/ShuttingDown 503,
 *   Timeout 504, Application 422 (500 when its code is `internal`: the
 *   handler crashed), WorkerDied/Protocol/Io 502;
 * - `POST /v1/jobs?session=S` — stored durably, run in its session's order:
 *   `202 {"id"}`;
 * - `GET /v1/jobs/ID` — `200 {"id", "session", "state", "ok"?, "error"?}`, 404 if unknown.
 *
 * A client that goes away cancels its direct request.
 */
import { Effect, Stream } from "effect"
import type { Pool } from "../pool/pool.ts"
import type { Runner } from "../runner/runner.ts"
import type { Job } from "../runner/store.ts"
import { isRefusal } from "./body.ts"
import { answerOf } from "./errors.ts"
import { errorResponse, ok, type Response } from "./response.ts"
import type { App, Route, RouteRequest } from "./server.ts"

/** `GET /v1/jobs/ID`'s answer: `{id, session, state, ok?, error?}`. */
export const jobBody = (job: Job) => ({
  id: job.id,
  session: job.session,
  state: job.state,
  ...("ok" in job ? { ok: job.ok } : {}),
  ...("error" in job ? { error: job.error } : {})
})

/** Where session jobs are kept: this server's runner (SQLite) or the cluster's job store (PostgreSQL). */
export interface Sessions {
  /** Stores the job; its id. */
  readonly enqueue: (session: string, body: { readonly value: unknown; readonly text: string }) => Effect.Effect<number, Response>
  readonly get: (id: number) => Effect.Effect<Job | undefined, Response>
}

/** One Server-Sent Event. */
const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`

/**
 * `POST /v1/jobs` with `Accept: text/event-stream` (SPEC §8): the worker's
 * chunks as `chunk` events as the client takes them (a slow client slows the
 * worker), then `done` (the result) or `error` (the error body). A client
 * that goes away cancels the request.
 */
const streamed = (pool: Pool, payload: unknown): Response => ({
  status: 200,
  contentType: "text/event-stream",
  body: "",
  events: pool.stream(payload).pipe(
    Stream.map((part) => part._tag === "Chunk" ? event("chunk", part.data) : event("done", part.value)),
    // the error map's body is JSON already: the event's data as it is
    Stream.catch((e) => Stream.make(`event: error\ndata: ${answerOf(e).body}\n\n`))
  )
})

/** `200 {"ok": result}`. */
const answered = (result: unknown): Response =>
  result === undefined ? ok({ ok: result }) : { status: 200, contentType: "application/json", body: `{"ok":${JSON.stringify(result)}}` }

const wantsEvents = (request: RouteRequest) => {
  const accept = request.headers["accept"]
  return typeof accept === "string" && accept.includes("text/event-stream")
}

/** `POST /v1/jobs` (direct or `?session=S`) and `GET /v1/jobs/ID`, for `liege pool` and `liege cluster pool`. */
export const jobRoutes = (pool: Pool, sessions: Sessions): ReadonlyArray<Route> => [
  {
    method: "POST",
    pattern: "/v1/jobs",
    name: "jobs",
    work: true,
    handle: (request) => {
      const body = request.body()
      if (isRefusal(body)) return Effect.succeed(body)
      const session = request.search === "" ? null : request.query.get("session")
      if (session === null) {
        if (wantsEvents(request)) return Effect.succeed(streamed(pool, body.value))
        return Effect.match(pool.submit(body.value), { onFailure: answerOf, onSuccess: answered })
      }
      if (session === "") return Effect.succeed(errorResponse(400, "BadSession", "session must not be empty"))
      return Effect.match(sessions.enqueue(session, body), { onFailure: (response) => response, onSuccess: (id) => ok({ id }, 202) })
    },
    // a direct request, its hot path: no fiber (the others go to `handle`)
    direct: (request, traceparent, reply) => {
      if (request.search !== "" || wantsEvents(request)) return "handle"
      const body = request.body()
      if (isRefusal(body)) {
        reply(body)
        return "replied"
      }
      const cancel = pool.call(body.value, (a) => reply("ok" in a ? answered(a.ok) : answerOf(a)), { text: body.text, traceparent })
      if (typeof cancel === "function") return cancel
      reply(answerOf(cancel))
      return "replied"
    }
  },
  {
    method: "GET",
    pattern: "/v1/jobs/:id",
    name: "job",
    handle: (request) => {
      const id = request.params["id"]!
      if (!/^\d+$/.test(id)) return Effect.succeed(errorResponse(404, "NotFound", `no job ${id}`))
      return sessions.get(Number(id)).pipe(
        Effect.map((job) => job === undefined ? errorResponse(404, "NotFound", `no job ${id}`) : ok(jobBody(job))),
        Effect.catch((response) => Effect.succeed(response))
      )
    }
  }
]

export const poolApp = (pool: Pool, runner: Runner): App => ({
  readiness: pool.readiness,
  reload: pool.reload.pipe(Effect.map((r) => ({ reloaded: r.reloaded, generation: r.generation }))),
  status: Effect.zipWith(pool.status, runner.sessions, (doc, sessions) => ({ ...doc, sessions })),
  metrics: () => {
    const v = pool.view()
    const r = runner.stats()
    return [
      { name: "liege_pool_workers", help: "workers in the pool (slots)", type: "gauge", samples: [{ value: v.size.running }] },
      { name: "liege_pool_workers_min", help: "the least workers (equal to the most unless the pool is elastic)", type: "gauge", samples: [{ value: v.size.min }] },
      { name: "liege_pool_workers_max", help: "the most workers", type: "gauge", samples: [{ value: v.size.max }] },
      { name: "liege_pool_scale_ups_total", help: "workers added because requests waited (elastic pool)", type: "counter", samples: [{ value: v.size.up }] },
      { name: "liege_pool_scale_downs_total", help: "idle workers let go (elastic pool)", type: "counter", samples: [{ value: v.size.down }] },
      { name: "liege_pool_generation", help: "the generation new workers are of (one more per reload)", type: "gauge", samples: [{ value: v.reload.generation }] },
      {
        name: "liege_pool_reloads_total",
        help: "reloads, by outcome",
        type: "counter",
        samples: [{ labels: { outcome: "ok" }, value: v.reload.total - v.reload.failed }, { labels: { outcome: "failed" }, value: v.reload.failed }]
      },
      { name: "liege_pool_ready_workers", help: "ready workers", type: "gauge", samples: [{ value: v.ready }] },
      { name: "liege_pool_busy_workers", help: "workers holding a request", type: "gauge", samples: [{ value: v.workers.filter((w) => w.inFlight > 0).length }] },
      { name: "liege_pool_in_flight", help: "requests on workers", type: "gauge", samples: [{ value: v.inFlight }] },
      { name: "liege_pool_queue_depth", help: "requests waiting for a worker", type: "gauge", samples: [{ value: v.queue.depth }] },
      { name: "liege_pool_restarts_total", help: "workers replaced after a failure (not recycled, let go or killed on a timeout), as /v1/status counts them by reason", type: "counter", samples: [{ value: v.restarts.total }] },
      { name: "liege_pool_recycles_total", help: "workers recycled", type: "counter", samples: [{ value: v.recycles.total }] },
      { name: "liege_pool_failed", help: "1 while the pool is failed", type: "gauge", samples: [{ value: v.failed === null ? 0 : 1 }] },
      {
        name: "liege_pool_answers_total",
        help: "answers by outcome",
        type: "counter",
        samples: Object.entries(v.answers.byOutcome).map(([outcome, value]) => ({ labels: { outcome }, value }))
      },
      { name: "liege_pool_request_seconds", help: "time from acceptance to answer", type: "histogram", histogram: pool.counters.latency },
      { name: "liege_runner_jobs_submitted_total", help: "session jobs submitted", type: "counter", samples: [{ value: r.submitted }] },
      { name: "liege_runner_jobs_settled_total", help: "session jobs done or failed", type: "counter", samples: [{ value: r.settled }] },
      { name: "liege_runner_sessions_in_flight", help: "sessions with a job running", type: "gauge", samples: [{ value: r.inFlight }] }
    ]
  },
  routes: jobRoutes(pool, {
    enqueue: (session, body) => runner.enqueue(session, body.value).pipe(Effect.mapError(answerOf)),
    get: (id) => runner.get(id)
  })
})
