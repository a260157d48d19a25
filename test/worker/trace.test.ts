/**
 * Trace context on the worker side (SPEC §1): a `req` (§5) or a `work` writ
 * (§2) may carry `"trace": "<W3C traceparent>"`, and the SDKs hand it to the
 * handler — `ctx.trace` / `req.trace` for a pool handler, `ctx.trace` in a
 * serf's `poke`. The shipped examples show it: the pool workers' op `trace`
 * answers it, the kv serfs' event `trace` gives it as its effect.
 *
 * Each worker (Node and Python, json and msgpack) is spoken to frame by
 * frame, as the host would: a request with a trace gets it back, one
 * without gets null, and a `trace` that is not a string is no trace — the
 * worker neither crashes nor passes it on, and goes on serving.
 */
import { afterEach, describe, expect, it } from "vitest"
import { codecNames } from "../../src/wire/codec.ts"
import { languages, programs, stopAll, Talk } from "./talk.ts"

afterEach(stopAll)

const traceA = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
const traceB = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
/** `trace` fields that are not strings: each is treated as absent. */
const notStrings: ReadonlyArray<unknown> = [42, null, true, { id: traceA }, [traceA]]

describe("a pool worker hands the request's trace to its handler", () => {
  for (const language of languages) {
    for (const codec of codecNames) {
      it(`${language}: op trace answers the req's trace, null without one or for one that is not a string (${codec})`, async () => {
        const w = new Talk(programs[language].pool, codec)
        expect(await w.next("ready")).toStrictEqual({ t: "ready", pro: 1 })

        w.send({ t: "req", id: 1, payload: { op: "trace" }, trace: traceA })
        expect(await w.next("answer 1")).toStrictEqual({ t: "res", id: 1, ok: traceA })
        w.send({ t: "req", id: 2, payload: { op: "trace" } })
        expect(await w.next("answer 2")).toStrictEqual({ t: "res", id: 2, ok: null })

        // a trace that is not a string: no trace, and the worker is fine
        let id = 3
        for (const trace of notStrings) {
          w.send({ t: "req", id, payload: { op: "trace" }, trace })
          expect(await w.next(`answer ${id} (trace ${JSON.stringify(trace)})`)).toStrictEqual({ t: "res", id, ok: null })
          id++
        }
        w.send({ t: "req", id: 20, payload: { op: "add", a: 1, b: 2 }, trace: 7 })
        expect(await w.next("answer 20")).toStrictEqual({ t: "res", id: 20, ok: 3 })

        // each request has its own: pipelined ones, and one that asked for a stream
        w.send({ t: "req", id: 21, payload: { op: "trace" }, trace: traceB })
        w.send({ t: "req", id: 22, payload: { op: "trace" } })
        w.send({ t: "req", id: 23, payload: { op: "trace" }, trace: traceA, stream: 4 })
        const answers = [await w.next("answer 21"), await w.next("answer 22"), await w.next("answer 23")]
        expect(answers).toEqual(expect.arrayContaining([
          { t: "res", id: 21, ok: traceB },
          { t: "res", id: 22, ok: null },
          { t: "res", id: 23, ok: traceA }
        ]))

        // a trace changes nothing else: a streamed answer still streams within its credit
        w.send({ t: "req", id: 24, payload: { op: "count", n: 2 }, trace: traceA, stream: 2 })
        expect(await w.next("chunk 1")).toStrictEqual({ t: "chunk", id: 24, data: { i: 1 } })
        expect(await w.next("chunk 2")).toStrictEqual({ t: "chunk", id: 24, data: { i: 2 } })
        w.send({ t: "credit", id: 24, n: 1 })
        expect(await w.next("answer 24")).toStrictEqual({ t: "res", id: 24, ok: { counted: 2 } })

        expect(await w.end()).toStrictEqual({ code: 0, signal: null })
      })
    }
  }
})

describe("a serf hands a live event's trace to poke", () => {
  for (const language of languages) {
    for (const codec of codecNames) {
      it(`${language}: event trace's effect is the work writ's trace, null without one or for one that is not a string (${codec})`, async () => {
        const w = new Talk(programs[language].serf, codec)
        const ripe = await w.next("ripe") as { t: string; eve: number; mug: number }
        expect(ripe).toMatchObject({ t: "ripe", pro: 1, eve: 0 })
        const empty = ripe.mug

        // during play there is no trace, and the event changes nothing
        w.send({ t: "play", eve: 1, events: [{ wen: 1700000000000, ev: { op: "trace" } }] })
        expect(await w.next("play-done")).toStrictEqual({ t: "play-done", mug: empty })

        const wen = 1700000000001
        w.send({ t: "work", wen, ev: { op: "trace" }, trace: traceA })
        expect(await w.next("work-done 2")).toStrictEqual({ t: "work-done", eve: 2, mug: empty, fec: [{ trace: traceA }] })
        w.send({ t: "work", wen, ev: { op: "trace" } })
        expect(await w.next("work-done 3")).toStrictEqual({ t: "work-done", eve: 3, mug: empty, fec: [{ trace: null }] })

        let eve = 4
        for (const trace of notStrings) {
          w.send({ t: "work", wen, ev: { op: "trace" }, trace })
          expect(await w.next(`work-done ${eve} (trace ${JSON.stringify(trace)})`)).toStrictEqual({
            t: "work-done",
            eve,
            mug: empty,
            fec: [{ trace: null }]
          })
          eve++
        }

        // the serf goes on as before: other events with a trace, pipelined, in order, each its own
        w.send({ t: "work", wen, ev: { op: "put", key: "a", value: 1 }, trace: traceB })
        w.send({ t: "work", wen, ev: { op: "trace" }, trace: traceB })
        w.send({ t: "work", wen, ev: { op: "trace" }, trace: { not: "a string" } })
        const put = await w.next("work-done (put)") as { eve: number; mug: number; fec: unknown }
        expect(put).toMatchObject({ t: "work-done", eve, fec: [{ key: "a", old: null }] })
        expect(await w.next("work-done (trace B)")).toStrictEqual({ t: "work-done", eve: eve + 1, mug: put.mug, fec: [{ trace: traceB }] })
        expect(await w.next("work-done (no trace)")).toStrictEqual({ t: "work-done", eve: eve + 2, mug: put.mug, fec: [{ trace: null }] })
        w.send({ t: "peek", now: wen, gang: null, path: ["get", "a"] })
        expect(await w.next("peek")).toStrictEqual({ t: "peek", dat: 1 })

        w.send({ t: "exit", code: 0 })
        expect(await w.end()).toStrictEqual({ code: 0, signal: null })
      })
    }
  }
})
