/**
 * Streaming answers (SPEC §5): a `req` with a credit, `chunk` frames within
 * it, `credit` frames as the consumer takes them; a chunk beyond the credit
 * is a protocol break; ending the stream early cancels the request; the
 * exec timeout covers the whole stream.
 */
import { describe, expect } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { make, type StreamPart } from "../../src/pool/pool.ts"
import { live } from "../support/live.ts"
import { faulty, nodeWorker, pythonWorker, readyWorkers } from "../support/pools.ts"
import { fixture, until } from "../support/procs.ts"
import { tempDir } from "../support/serfs.ts"

const chunks = (parts: ReadonlyArray<StreamPart>) => parts.filter((p) => p._tag === "Chunk").map((p) => (p as { data: unknown }).data)

describe("streaming answers", () => {
  live("the Node SDK streams an async generator: every chunk in order, then the answer", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...nodeWorker, workers: 1 })
      const parts = yield* Stream.runCollect(pool.stream({ op: "count", n: 50 }, { credit: 4 }))
      expect(chunks(parts)).toEqual(Array.from({ length: 50 }, (_, i) => ({ i: i + 1 })))
      expect(parts.at(-1)).toEqual({ _tag: "Done", value: { counted: 50 } })
      // the same handler, asked without a stream, answers the chunks as one array
      expect(yield* pool.submit({ op: "count", n: 3 })).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }])
    }), 20_000)

  live("an async handler returning an async generator is streamed too; ctx.streamed says whether a stream was asked for", () =>
    Effect.gen(function*() {
      const pool = yield* make({ command: process.execPath, args: [fixture("async-stream-worker.ts")], workers: 1 })
      const parts = yield* Stream.runCollect(pool.stream(3, { credit: 2 }))
      expect(parts).toEqual([{ _tag: "Chunk", data: 1 }, { _tag: "Chunk", data: 2 }, { _tag: "Chunk", data: 3 }, { _tag: "Done", value: "done" }])
      expect(yield* pool.submit(2)).toEqual({ streamed: false, values: [1, 2] })
    }), 20_000)

  live("the Python SDK streams a generator the same way, and a cancel closes it", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...pythonWorker, workers: 1 })
      const parts = yield* Stream.runCollect(pool.stream({ op: "count", n: 40 }, { credit: 3 }))
      expect(chunks(parts)).toEqual(Array.from({ length: 40 }, (_, i) => ({ i: i + 1 })))
      expect(parts.at(-1)).toEqual({ _tag: "Done", value: { counted: 40 } })
      expect(yield* pool.submit({ op: "count", n: 2 })).toEqual([{ i: 1 }, { i: 2 }])
      const first = yield* pool.stream({ op: "count", n: 100_000, ms: 2 }, { credit: 2 }).pipe(Stream.take(2), Stream.runCollect)
      expect(chunks(first)).toEqual([{ i: 1 }, { i: 2 }])
      yield* until(() => pool.view().inFlight === 0)
      expect(yield* pool.submit({ op: "echo", value: "next" })).toBe("next")
    }), 20_000)

  live("a slow consumer slows the worker: it never runs more than the credit ahead", () => {
    const dir = tempDir("liege-stream-")
    const log = path.join(dir, "sent")
    const sent = () => fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").length : 0
    return Effect.gen(function*() {
      const credit = 4
      const pool = yield* make({ ...faulty({ FAULTY_CHUNK_LOG: log }), workers: 1 })
      let taken = 0
      const ahead: Array<number> = []
      const parts = yield* pool.stream({ op: "chunks", n: 30 }, { credit }).pipe(
        Stream.tap((part) =>
          Effect.gen(function*() {
            if (part._tag !== "Chunk") return
            taken++
            // the consumer is slow: by now the worker could have raced far ahead, were it not for the credit
            yield* Effect.sleep(15)
            ahead.push(sent() - taken)
          })
        ),
        Stream.runCollect
      )
      expect(chunks(parts)).toHaveLength(30)
      expect(Math.max(...ahead)).toBeLessThanOrEqual(credit)
      expect(Math.max(...ahead)).toBeGreaterThan(0) // it did run ahead, within the credit
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))))
  }, 20_000)

  live("a chunk beyond the credit is a protocol break: the stream fails with Protocol, the worker is replaced", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1 })
      yield* readyWorkers(pool, 1)
      const [pid] = pool.pids()
      const error = yield* Effect.flip(Stream.runDrain(pool.stream({ op: "flood", n: 10 }, { credit: 2 })))
      expect(error).toMatchObject({ _tag: "Protocol", reason: expect.stringContaining("beyond its credit (2)") })
      yield* until(() => !pool.pids().includes(pid!))
      // and a chunk for a request that asked for no stream is one too
      expect(yield* Effect.flip(pool.submit({ op: "flood", n: 1 }))).toMatchObject({
        _tag: "Protocol",
        reason: expect.stringContaining("did not ask for a stream")
      })
    }), 20_000)

  live("ending the stream early cancels the request on its worker", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1 })
      const first = yield* pool.stream({ op: "chunks", n: 1000, ms: 5 }, { credit: 4 }).pipe(Stream.take(3), Stream.runCollect)
      expect(Chunk.size(Chunk.fromIterable(first))).toBe(3)
      // the worker let go (it answered the cancel), took nothing more and serves the next
      yield* until(() => pool.view().inFlight === 0)
      expect(yield* pool.submit({ op: "echo", value: 1 })).toMatchObject({ value: 1 })
      expect(pool.view().restarts.total).toBe(0)
    }), 20_000)

  live("execTimeout covers the whole stream", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, execTimeout: "1 second" })
      const got: Array<unknown> = []
      const error = yield* Effect.flip(Stream.runForEach(pool.stream({ op: "chunks", n: 100, ms: 20 }), (p) => Effect.sync(() => got.push(p))))
      expect(error).toMatchObject({ _tag: "Timeout", ms: 1000 })
      // chunks came before the limit
      expect(got.length).toBeGreaterThan(3)
    }), 20_000)
})
