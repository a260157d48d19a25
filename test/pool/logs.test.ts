/**
 * The pool logs through its caller's logger (the CLI's: stderr, in the
 * chosen format) and nowhere else: never on stdout, never outside a scope.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { make } from "../../src/pool/pool.ts"
import { faulty } from "../support/pools.ts"

describe("pool logs", () => {
  it.live("recycling and PoolFailed are logged by the caller's logger; nothing goes to stdout", () => {
    const messages: Array<string> = []
    const collect = Logger.make(({ message }) => {
      messages.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
    })
    const stdout: Array<string> = []
    const write = process.stdout.write
    const log = console.log
    const error = console.error
    const info = console.info
    return Effect.gen(function*() {
      process.stdout.write = ((chunk: unknown) => {
        stdout.push(String(chunk))
        return true
      }) as typeof process.stdout.write
      console.log = console.error = console.info = (...args: Array<unknown>) => void stdout.push(args.map(String).join(" "))
      yield* Effect.scoped(Effect.gen(function*() {
        const recycling = yield* make({ ...faulty(), workers: 1, maxJobs: 1 })
        yield* recycling.submit({ op: "echo", value: 1 })
        yield* recycling.submit({ op: "echo", value: 2 })
        const failing = yield* make({ ...faulty({ FAULTY_NO_READY: "1" }), workers: 1, bootTimeout: 50, maxRestarts: 0, grace: 100 })
        yield* failing.failed
      }))
      expect(messages.some((m) => m.startsWith("recycling worker 1"))).toBe(true)
      expect(messages.some((m) => m.startsWith("the pool has failed")), messages.join("\n")).toBe(true)
      expect(stdout).toEqual([])
    }).pipe(
      Effect.provide(Logger.layer([collect])),
      Effect.ensuring(Effect.sync(() => {
        process.stdout.write = write
        console.log = log
        console.error = error
        console.info = info
      }))
    )
  })
})
