/**
 * The routes of a cluster runner (SPEC §9). Every runner answers every
 * route and forwards through the cluster to the runner that owns the serf
 * or the session:
 *
 * - `POST /v1/serfs/ID/events`, `GET /v1/serfs/ID/peek/<path…>`,
 *   `POST /v1/serfs/ID/snapshot`, `POST /v1/serfs/ID/pack` — as `liege
 *   serf`'s routes; an id not `[A-Za-z0-9_-]{1,64}` is 400; a serf that is
 *   moving makes its callers wait, or answers 5xx (never 4xx);
 * - `POST /v1/cluster/forward`: events another runner forwards here, many
 *   at once (../cluster/forward.ts), for the serfs serving here;
 * - `POST /v1/jobs?session=S` (stored, then `202 {"id"}`), `GET
 *   /v1/jobs/ID` (from any runner), `POST /v1/jobs` (this runner's pool).
 *
 * Values cross between runners as JSON text and are spliced into the
 * answers as they came: nothing is parsed and written again.
 */
import { randomUUID } from "node:crypto"
import { Cause, Duration, Effect, Exit } from "effect"
import type * as http from "node:http"
import { answerLine, decodeBatch, type Forwarded, type ForwardItem, FORWARD_PATH } from "../cluster/forward.ts"
import { type PokeReply, Refusal, SERF_ID } from "../cluster/protocol.ts"
import { isRefusal } from "./body.ts"
import { answerOfTag } from "./errors.ts"
import type { Family } from "./prometheus.ts"
import { errorResponse, ok, type Response } from "./response.ts"
import type { Route, RouteRequest } from "./routes.ts"

/** How long a request waits for a serf's answer (through a failover, say) before a 504. */
export const ANSWER_TIMEOUT = Duration.seconds(30)

/** No answer within ANSWER_TIMEOUT. */
export const answerTimedOut = () =>
  new Refusal({ tag: "Timeout", message: `no answer within ${Duration.format(ANSWER_TIMEOUT)} (the serf may be moving)` })

const json = (body: string, status = 200, headers?: Record<string, string>): Response =>
  headers === undefined ? { status, contentType: "application/json", body } : { status, contentType: "application/json", body, headers }

/** A refusal from the serf's runner, answered through the one error map (a Bail carries its goofs). */
export const fromRefusal = (r: Refusal): Response =>
  r.tag === "Bail" && r.goofs !== undefined
    ? json(`{"error":{"tag":"Bail","message":${JSON.stringify(r.message)},"goofs":${r.goofs}}}`, 422)
    : answerOfTag(r.tag, r.message, r.fields)

/**
 * The answer, and which runner gave it (`liege-runner`, for operators and
 * tests) with its HTTP address (`liege-owner`: a client that sends the
 * serf's next events there saves a runner the forwarding).
 */
const pokeAnswer = (r: PokeReply): Response =>
  json(
    `{"eve":${r.eve},"mug":${r.mug},"effects":${r.effects}${r.swapped === undefined ? "" : `,"swapped":${r.swapped}`}}`,
    200,
    r.url === undefined ? { "liege-runner": r.runner } : { "liege-runner": r.runner, "liege-owner": r.url }
  )

/** What the routes need of the serf entities (the cluster's clients, or a test's stand-in). */
export interface SerfClients {
  /** A poke of the event `ev` (JSON text; `value`, when given, is it parsed), answered within ANSWER_TIMEOUT (else `answerTimedOut`). */
  readonly poke: (id: string, key: string, ev: string, value?: unknown) => Effect.Effect<PokeReply, Refusal>
  /** The same without a fiber (the events route's direct path): `done` is called once; the function returned stops listening. */
  readonly start?: ((id: string, key: string, ev: string, value: unknown, done: (exit: Exit.Exit<PokeReply, Refusal>) => void) => () => void) | undefined
  readonly peek: (id: string, path: ReadonlyArray<string>) => Effect.Effect<string, Refusal>
  readonly snapshot: (id: string) => Effect.Effect<number, Refusal>
  readonly pack: (id: string) => Effect.Effect<number, Refusal>
  /** Whether this runner owns the serf (else the request is forwarded). */
  readonly local: (id: string) => boolean
  /**
   * Events another runner forwarded here (../cluster/forward.ts): `answer`
   * is called once for each, by its place, as it is answered (or
   * `elsewhere`); the function returned stops listening.
   */
  readonly accept?: ((items: ReadonlyArray<ForwardItem>, answer: (i: number, a: Forwarded) => void) => () => void) | undefined
}

/** Forwarded events not answered this long: an empty line tells their runner the batch is taken. */
const ACK_MS = 2

/**
 * The answers to a batch of forwarded events, streamed: the answers of each
 * tick in one write, the last with the end of the response; the first (or
 * an empty line, if none comes within ACK_MS) tells the forwarding runner
 * that the batch is taken.
 */
const streamAnswers = (
  res: http.ServerResponse,
  items: ReadonlyArray<ForwardItem>,
  accept: NonNullable<SerfClients["accept"]>
) => {
  res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache" })
  let left = items.length
  let lines = ""
  let scheduled = false
  // the first answers tell the forwarding runner that the batch is taken; if none comes soon, an empty line does
  let ack: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
    ack = undefined
    if (!res.destroyed && !res.headersSent) res.write("\n")
  }, ACK_MS)
  const flush = () => {
    scheduled = false
    if (ack !== undefined) {
      clearTimeout(ack)
      ack = undefined
    }
    if (res.destroyed) return
    if (left === 0) res.end(lines)
    else if (lines !== "") res.write(lines)
    lines = ""
  }
  const stop = accept(items, (i, a) => {
    lines += answerLine(i, a)
    left--
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  })
  if (items.length === 0) res.end()
  // the forwarding runner went away: its events go on here, nobody listens
  res.once("close", () => {
    if (!res.writableFinished) stop()
  })
}

/**
 * Any failure of the way there (a runner gone, a timeout) is a 5xx: the
 * serf is moving. So is an answer that is an interruption: the runner that
 * held the serf let it go before it answered (it lost the serf's shard, or
 * its database), and the caller gets 503 rather than no answer at all.
 */
const responseOf = <A>(exit: Exit.Exit<A, Refusal>, answer: (a: A) => Response): Response => {
  if (Exit.isSuccess(exit)) return answer(exit.value)
  const cause = exit.cause
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") return fromRefusal(error.value)
  if (Cause.hasInterruptsOnly(cause)) {
    return answerOfTag("SerfUnavailable", "the serf was let go before it answered (it is moving to another runner): send it again")
  }
  const defect = Cause.findDefect(cause)
  return answerOfTag("SerfUnavailable", `the serf's runner did not answer${defect._tag === "Success" ? `: ${String(defect.success).split("\n")[0]}` : ""}`)
}

const settle = <A>(effect: Effect.Effect<A, Refusal>, answer: (a: A) => Response, timed = true): Effect.Effect<Response> =>
  Effect.map(
    Effect.exit(timed ? Effect.timeoutOrElse(effect, { duration: ANSWER_TIMEOUT, orElse: () => Effect.fail(answerTimedOut()) }) : effect),
    (exit) => responseOf(exit, answer)
  )

/** The serf routes of a runner: every runner answers every serf's routes, forwarding to its owner. */
export const serfRoutes = (clients: SerfClients, forwarded: { count: number }): ReadonlyArray<Route> => {
  /** The serf id, checked (`[A-Za-z0-9_-]{1,64}`, else 400), counted as forwarded unless the serf is here. */
  const serf = (request: RouteRequest, go: (id: string) => Effect.Effect<Response>): Effect.Effect<Response> => {
    const id = request.params["id"]!
    if (!SERF_ID.test(id)) return Effect.succeed(errorResponse(400, "BadSerfId", "a serf id is 1 to 64 letters, digits, - or _"))
    if (!clients.local(id)) forwarded.count++
    return go(id)
  }
  const accept = clients.accept
  const start = clients.start
  const forwardRoute: ReadonlyArray<Route> = accept === undefined ? [] : [{
    method: "POST",
    pattern: FORWARD_PATH,
    name: "cluster_forward",
    work: true,
    handle: (request) =>
      Effect.flatMap(request.json, (body) => {
        const items = decodeBatch(body.value)
        if (items === undefined) return Effect.succeed(errorResponse(400, "BadBody", "a batch of forwarded events is an array of {s, k, e}"))
        return Effect.succeed<Response>({
          status: 200,
          contentType: "application/x-ndjson",
          body: "",
          raw: (res) => streamAnswers(res, items, accept)
        })
      }).pipe(Effect.catch((r: Response) => Effect.succeed(r)))
  }]
  return [
    ...forwardRoute,
    {
      method: "POST",
      pattern: "/v1/serfs/:id/events",
      name: "serf_events",
      work: true,
      handle: (request) =>
        serf(request, (id) =>
          Effect.flatMap(request.json, (body) => settle(clients.poke(id, randomUUID(), body.text, body.value), pokeAnswer, false)).pipe(
            Effect.catch((r: Response) => Effect.succeed(r))
          )),
      // its hot path, without a fiber of its own
      ...(start === undefined ? {} : {
        direct: (request: RouteRequest, _traceparent: string | undefined, reply: (response: Response) => void) => {
          const id = request.params["id"]!
          const body = request.body()
          if (!SERF_ID.test(id) || isRefusal(body)) return "handle"
          if (!clients.local(id)) forwarded.count++
          return start(id, randomUUID(), body.text, body.value, (exit) => reply(responseOf(exit, pokeAnswer)))
        }
      })
    },
    {
      method: "GET",
      pattern: "/v1/serfs/:id/peek/*",
      name: "serf_peek",
      handle: (request) => serf(request, (id) => settle(clients.peek(id, request.rest), (dat) => json(`{"dat":${dat}}`)))
    },
    {
      method: "POST",
      pattern: "/v1/serfs/:id/snapshot",
      name: "serf_snapshot",
      work: true,
      handle: (request) => serf(request, (id) => settle(clients.snapshot(id), (eve) => ok({ eve })))
    },
    {
      method: "POST",
      pattern: "/v1/serfs/:id/pack",
      name: "serf_pack",
      work: true,
      handle: (request) => serf(request, (id) => settle(clients.pack(id), (eve) => ok({ eve })))
    }
  ]
}

export interface RunnerCounters {
  readonly serfs?: { readonly active: number; readonly activations: number; readonly replays: number; readonly commits: number; readonly refused: number }
  readonly sessions?: { readonly active: number; readonly started: number; readonly settled: number }
  readonly forwarded: { readonly count: number }
  readonly shards: () => number
}

export const runnerMetrics = (c: RunnerCounters): ReadonlyArray<Family> => [
  { name: "liege_cluster_shards", help: "shards this runner owns", type: "gauge", samples: [{ value: c.shards() }] },
  { name: "liege_cluster_forwarded_requests_total", help: "requests taken here for a serf or session another runner owns", type: "counter", samples: [{ value: c.forwarded.count }] },
  ...(c.serfs === undefined ? [] : [
    { name: "liege_cluster_serfs", help: "serfs running on this runner", type: "gauge", samples: [{ value: c.serfs.active }] },
    { name: "liege_cluster_serf_activations_total", help: "serfs started on this runner", type: "counter", samples: [{ value: c.serfs.activations }] },
    { name: "liege_cluster_replays_total", help: "replays of a serf's log on this runner", type: "counter", samples: [{ value: c.serfs.replays }] },
    { name: "liege_cluster_commits_total", help: "group commits to PostgreSQL from this runner", type: "counter", samples: [{ value: c.serfs.commits }] },
    { name: "liege_cluster_refused_total", help: "events refused or failed on this runner", type: "counter", samples: [{ value: c.serfs.refused }] }
  ] as const),
  ...(c.sessions === undefined ? [] : [
    { name: "liege_cluster_sessions", help: "sessions owned by this runner", type: "gauge", samples: [{ value: c.sessions.active }] },
    { name: "liege_cluster_jobs_started_total", help: "session jobs started on this runner", type: "counter", samples: [{ value: c.sessions.started }] },
    { name: "liege_cluster_jobs_settled_total", help: "session jobs settled on this runner", type: "counter", samples: [{ value: c.sessions.settled }] }
  ] as const)
]
