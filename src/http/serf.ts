/**
 * The routes of `liege serf` (SPEC §8):
 *
 * - `POST /v1/events` — the event; once durable `200 {eve, mug, effects}`
 *   (plus `swapped` for a swap), or `422 {"error":{"tag":"Bail","goofs":[…]}}`;
 * - `GET /v1/peek/<path…>` — `200 {dat}`;
 * - `POST /v1/snapshot`, `POST /v1/pack` — `200 {eve}`;
 * - before the first serf is ripe, every route answers 503; later, while a
 *   serf restarts, requests wait for the next one.
 */
import { Effect } from "effect"
import type { Pier, PokeError } from "../pier/pier.ts"
import { errorResponse, ok, type Response } from "./response.ts"
import type { App } from "./server.ts"

/** The HTTP status a pier's failure answers with (SPEC §8): also the cluster's (SPEC §9: a moving serf is a 5xx). */
export const statusOf = (e: { readonly _tag: string }): number => {
  switch (e._tag) {
    case "PierIo":
      return 500
    case "SerfPoisoned":
      return 422
    case "Timeout":
      return 504
    default:
      return 503
  }
}

/** The tag an error answers with (SPEC §3: a poison event is `Poison`). */
export const tagOf = (e: { readonly _tag: string }): string => e._tag === "SerfPoisoned" ? "Poison" : e._tag

const failure = (e: PokeError) => errorResponse(statusOf(e), tagOf(e), e.message)

export const serfApp = (pier: Pier): App => {
  let everReady = false
  const ready = () => {
    if (pier.ready()) everReady = true
    return everReady
  }
  const notReady = errorResponse(503, "NotReady", "the serf is not ripe yet (booting or replaying)")
  const answer = (name: string, response: Response) => ({ name, handle: Effect.succeed(response) })

  return {
    readiness: pier.readiness,
    status: pier.status,
    metrics: () => {
      const v = pier.view()
      const replay = pier.counters.replay()
      return [
        { name: "liege_serf_events_total", help: "events logged", type: "counter", samples: [{ value: v.logged }] },
        { name: "liege_serf_commits_total", help: "group commits", type: "counter", samples: [{ value: v.commits.total }] },
        { name: "liege_serf_commit_batch_events", help: "events per group commit", type: "histogram", histogram: pier.counters.commitBatches },
        { name: "liege_serf_in_flight", help: "work writs outstanding", type: "gauge", samples: [{ value: v.window.inFlight }] },
        { name: "liege_serf_pending", help: "events accepted, not yet answered", type: "gauge", samples: [{ value: v.pending }] },
        { name: "liege_serf_eve", help: "last logged event", type: "gauge", samples: [{ value: v.eve }] },
        { name: "liege_serf_ripe", help: "1 when a ripe serf is serving", type: "gauge", samples: [{ value: v.healthy ? 1 : 0 }] },
        { name: "liege_serf_restarts_total", help: "serf restarts", type: "counter", samples: [{ value: v.restarts.total }] },
        { name: "liege_serf_poisoned_total", help: "poison events refused (never logged)", type: "counter", samples: [{ value: v.poisoned }] },
        { name: "liege_serf_replay_events", help: "events replayed at the last start", type: "gauge", samples: [{ value: replay.done }] },
        { name: "liege_serf_replay_target_events", help: "events to replay at the last start", type: "gauge", samples: [{ value: replay.total }] }
      ]
    },
    route: (request) => {
      const { method, path } = request
      if (path === "/v1/events") {
        if (method !== "POST") return answer("events", errorResponse(405, "MethodNotAllowed", "POST an event"))
        return {
          name: "events",
          handle: Effect.gen(function*() {
          if (!ready()) return notReady
          const body = yield* request.json
          const answer = yield* pier.poke(body.value, body.text)
          if (answer._tag === "Bail") {
            return errorResponse(422, "Bail", "the serf refused the event", { goofs: answer.goofs })
          }
          return ok(
            answer._tag === "Swap"
              ? { eve: answer.eve, mug: answer.mug, effects: answer.effects, swapped: answer.ev }
              : { eve: answer.eve, mug: answer.mug, effects: answer.effects }
          )
        }).pipe(Effect.catch((e) => Effect.succeed("_tag" in e ? failure(e) : e)))
        }
      }
      if (path === "/v1/peek" || path.startsWith("/v1/peek/")) {
        if (method !== "GET") return answer("peek", errorResponse(405, "MethodNotAllowed", "GET a peek"))
        let segments: Array<string>
        try {
          segments = path.slice("/v1/peek".length).split("/").filter((s) => s !== "").map(decodeURIComponent)
        } catch {
          return answer("peek", errorResponse(400, "BadPath", "the peek path is not valid percent-encoding"))
        }
        return {
          name: "peek",
          handle: Effect.gen(function*() {
            if (!ready()) return notReady
            return ok({ dat: (yield* pier.peek(segments)) ?? null })
          }).pipe(Effect.catch((e) => Effect.succeed(failure(e))))
        }
      }
      if (path === "/v1/snapshot" || path === "/v1/pack") {
        const name = path.slice(4)
        if (method !== "POST") return answer(name, errorResponse(405, "MethodNotAllowed", `POST ${path}`))
        const op = path === "/v1/snapshot" ? pier.snapshot : pier.pack
        return {
          name,
          handle: Effect.gen(function*() {
            if (!ready()) return notReady
            return ok({ eve: yield* op })
          }).pipe(Effect.catch((e) => Effect.succeed(failure(e))))
        }
      }
      return undefined
    }
  }
}
