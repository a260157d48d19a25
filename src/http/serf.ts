/**
 * The routes of `liege serf` (SPEC §8):
 *
 * - `POST /v1/events` — the event; once durable `200 {eve, mug, effects}`
 *   (plus `swapped` for a swap), or `422 {"error":{"tag":"Bail","goofs":[…]}}`;
 * - `GET /v1/peek/<path…>` — `200 {dat}`;
 * - `POST /v1/snapshot`, `POST /v1/pack` — `200 {eve}`;
 * - `POST /v1/reload` (and SIGHUP) — the serf's code upgraded without losing
 *   an event: `200 {reloaded: 1, eve, generation}` (the new serf serves from
 *   the event after `eve`), or `500 ReloadFailed` saying why (the old serf
 *   goes on);
 * - before the first serf is ripe, every route answers 503; later, while a
 *   serf restarts, requests wait for the next one.
 */
import { Effect } from "effect"
import type { Pier, PokeAnswer } from "../pier/pier.ts"
import { isRefusal } from "./body.ts"
import { answerOf } from "./errors.ts"
import { errorResponse, ok, type Response } from "./response.ts"
import type { App } from "./server.ts"

export const serfApp = (pier: Pier): App => {
  let everReady = false
  const ready = () => {
    if (pier.ready()) everReady = true
    return everReady
  }
  const notReady = errorResponse(503, "NotReady", "the serf is not ripe yet (booting or replaying)")
  /** Before the first serf is ripe, 503; a failure is answered through the one error map. */
  const guarded = (effect: Effect.Effect<Response, Parameters<typeof answerOf>[0]>): Effect.Effect<Response> =>
    Effect.suspend(() => ready() ? Effect.catch(effect, (e) => Effect.succeed(answerOf(e))) : Effect.succeed(notReady))

  /** `200 {eve, mug, effects}` (and `swapped`), or `422 Bail` with the goofs. */
  const answered = (answer: PokeAnswer): Response => {
    if (answer._tag === "Bail") return errorResponse(422, "Bail", "the serf refused the event", { goofs: answer.goofs })
    return ok(
      answer._tag === "Swap"
        ? { eve: answer.eve, mug: answer.mug, effects: answer.effects, swapped: answer.ev }
        : { eve: answer.eve, mug: answer.mug, effects: answer.effects }
    )
  }

  return {
    readiness: pier.readiness,
    status: pier.status,
    reload: Effect.map(pier.reload, (r) => ({ reloaded: r.reloaded, eve: r.eve, generation: r.generation })),
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
        {
          name: "liege_serf_reloads_total",
          help: "serf reloads, by outcome",
          type: "counter",
          samples: [
            { labels: { outcome: "ok" }, value: (v.reload?.total ?? 0) - (v.reload?.failed ?? 0) },
            { labels: { outcome: "failed" }, value: v.reload?.failed ?? 0 }
          ]
        },
        { name: "liege_serf_generation", help: "the serving serf's LIEGE_GENERATION", type: "gauge", samples: [{ value: v.reload?.generation ?? 1 }] },
        { name: "liege_serf_poisoned_total", help: "poison events refused (never logged)", type: "counter", samples: [{ value: v.poisoned }] },
        { name: "liege_serf_replay_events", help: "events replayed at the last start", type: "gauge", samples: [{ value: replay.done }] },
        { name: "liege_serf_replay_target_events", help: "events to replay at the last start", type: "gauge", samples: [{ value: replay.total }] }
      ]
    },
    routes: [
      {
        method: "POST",
        pattern: "/v1/events",
        name: "events",
        work: true,
        handle: (request) => {
          if (!ready()) return Effect.succeed(notReady)
          const body = request.body()
          if (isRefusal(body)) return Effect.succeed(body)
          return Effect.match(pier.poke(body.value, body.text), { onFailure: answerOf, onSuccess: answered })
        },
        // its hot path, without a fiber of its own
        direct: (request, traceparent, reply) => {
          const body = ready() ? request.body() : notReady
          if (isRefusal(body)) {
            reply(body)
            return "replied"
          }
          const started = pier.call(body.value, (a) => reply(a instanceof Error ? answerOf(a) : answered(a)), { json: body.text, traceparent })
          if (typeof started === "function") return started
          reply(answerOf(started))
          return "replied"
        }
      },
      {
        method: "GET",
        pattern: "/v1/peek/*",
        name: "peek",
        handle: (request) => guarded(Effect.map(pier.peek(request.rest), (dat) => ok({ dat: dat ?? null })))
      },
      { method: "POST", pattern: "/v1/snapshot", name: "snapshot", work: true, handle: () => guarded(Effect.map(pier.snapshot, (eve) => ok({ eve }))) },
      { method: "POST", pattern: "/v1/pack", name: "pack", work: true, handle: () => guarded(Effect.map(pier.pack, (eve) => ok({ eve }))) }
    ]
  }
}
