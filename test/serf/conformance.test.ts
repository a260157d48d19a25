/**
 * The example key-value serf, in Node and in Python, driven through the host:
 * both must give the same answers, the same mugs and the same snapshots
 * behaviour, in both codecs. A serf in any other language can be checked the
 * same way.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { start } from "../../src/serf/host.ts"
import { root } from "../support/procs.ts"
import { kvSerf, tempDir } from "../support/serfs.ts"

const serfs = [
  ["node", kvSerf],
  ["python", { command: "python3", args: [path.join(root, "examples/python/kv_serf.py")] }]
] as const

const script: ReadonlyArray<unknown> = [
  { op: "put", key: "a", value: 1 },
  { op: "put", key: "b", value: { z: [1, 2, { y: null }], a: "é ✓" } },
  { op: "incr", key: "a", by: 41 },
  { op: "nonsense" },
  { op: "put", key: "c", value: 2.5 },
  { op: "crash" },
  { op: "del", key: "b" },
  { op: "incr", key: "b" },
  { op: "put", key: "big", value: "x".repeat(70_000) },
  { op: "put" },
  { op: "del", key: "nobody" }
]

const quiet = Logger.layer([])

const runScript = (serf: (typeof serfs)[number][1], codec: "json" | "msgpack", pier?: string) =>
  Effect.scoped(Effect.gen(function*() {
    const s = yield* start({ ...serf, codec, ...(pier === undefined ? {} : { pier }) })
    const answers: Array<unknown> = []
    for (const ev of script) {
      const a = yield* s.work(ev, 1700000000000)
      answers.push(a)
    }
    const peeks = [
      yield* s.peek(["get", "a"]),
      yield* s.peek(["get", "b"]),
      yield* s.peek(["get", "c"]),
      yield* s.peek(["size"]),
      yield* s.peek(["keys"]),
      yield* s.peek(["get", "missing"]),
      yield* s.peek(["no", "such", "path"])
    ]
    if (pier !== undefined) yield* s.save()
    const stop = yield* s.stop
    return { ripe: s.ripe, answers, peeks, state: s.state(), stop: stop.toReport() }
  })).pipe(Effect.provide(quiet))

describe("serf conformance: the key-value example in Node and Python", () => {
  for (const codec of ["json", "msgpack"] as const) {
    it.live(`both serfs answer the same script the same way (${codec})`, () =>
      Effect.gen(function*() {
        const [node, python] = yield* Effect.forEach(serfs, ([, serf]) => runScript(serf, codec))
        expect(node!.ripe).toMatchObject({ pro: 1, eve: 0, mug: 0 })
        expect(python!.ripe).toEqual(node!.ripe)
        expect(python!.answers).toEqual(node!.answers)
        expect(python!.peeks).toEqual(node!.peeks)
        expect(python!.state).toEqual(node!.state)
        expect(node!.stop).toMatchObject({ termination: "Clean", code: 0 })
        expect(python!.stop).toMatchObject({ termination: "Clean", code: 0 })
        // the script itself: what a kv serf must answer
        const tags = node!.answers.map((a) => (a as { _tag: string })._tag)
        expect(tags).toEqual(["Done", "Done", "Done", "Bail", "Done", "Swap", "Done", "Done", "Done", "Bail", "Done"])
        // a refusal carries the error's name and message lines (the same in both), never a stack
        expect(node!.answers[3]).toEqual({ _tag: "Bail", goofs: [{ mote: "TypeError", tang: ['unknown op "nonsense"'] }] })
        expect(node!.answers[9]).toEqual({ _tag: "Bail", goofs: [{ mote: "TypeError", tang: ["the event needs a string key"] }] })
        expect(node!.peeks).toEqual([42, 1, 2.5, 5, ["a", "big", "c", "crashes", "b"].sort(), null, null])
      }))
  }

  for (const [name, serf] of serfs) {
    it.live(`${name}: a snapshot restores the state and the mug; replay after it catches up`, () =>
      Effect.gen(function*() {
        const pier = tempDir()
        try {
          const first = yield* runScript(serf, "json", pier)
          expect(fs.existsSync(path.join(pier, "kv-snapshot.json"))).toBe(true)
          const back = yield* Effect.scoped(Effect.gen(function*() {
            const s = yield* start({ ...serf, pier })
            const more = yield* s.replay(Stream.fromIterable([{ wen: 1, ev: { op: "incr", key: "a" } }]))
            return { ripe: s.ripe, more, a: yield* s.peek(["get", "a"]) }
          })).pipe(Effect.provide(quiet))
          expect(back.ripe).toMatchObject({ eve: first.state.eve, mug: first.state.mug })
          expect(back.more).toMatchObject({ _tag: "Done", eve: first.state.eve + 1 })
          expect(back.a).toBe(43)
        } finally {
          fs.rmSync(pier, { recursive: true, force: true })
        }
      }))

    it.live(`${name}: play bails at the first bad event with the mug before it`, () =>
      Effect.scoped(Effect.gen(function*() {
        const s = yield* start(serf)
        const r = yield* s.boot([
          { wen: 1, ev: { op: "put", key: "a", value: 1 } },
          { wen: 2, ev: { op: "oops" } },
          { wen: 3, ev: { op: "put", key: "b", value: 2 } }
        ])
        expect(r).toEqual({ _tag: "Bail", eve: 2, mug: r.mug, goof: { mote: "TypeError", tang: ['unknown op "oops"'] } })
        expect(s.state().eve).toBe(1)
        expect(yield* s.peek(["size"])).toBe(1)
      })).pipe(Effect.provide(quiet)))
  }
})
