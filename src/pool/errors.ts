/**
 * What a pool request can end with besides its answer (SPEC §5). Every
 * accepted request gets exactly one answer: its `ok` value or one of these.
 */
import { Schema } from "effect"

import { ShuttingDown } from "../errors.ts"

export { ShuttingDown }

/**
 * The queue is full (`maxQueue` requests waiting): answered at once; or the
 * request waited in the queue longer than `queueTimeout` (`waitedMs`).
 */
export class Busy extends Schema.TaggedError<Busy>()("Busy", {
  queued: Schema.Number,
  waitedMs: Schema.optional(Schema.Number)
}) {
  override get message() {
    return this.waitedMs === undefined
      ? `the pool is busy: ${this.queued} requests already wait (maxQueue)`
      : `the pool is busy: the request waited ${this.waitedMs} ms in the queue (queueTimeout) and was not started`
  }
}

/** Workers failed more than `maxRestarts` times within `restartWindow`. */
export class PoolFailed extends Schema.TaggedError<PoolFailed>()("PoolFailed", { reason: Schema.String }) {
  override get message() {
    return `the pool has failed: ${this.reason}`
  }
}

/** The worker running the request exited or was killed. */
export class WorkerDied extends Schema.TaggedError<WorkerDied>()("WorkerDied", {
  worker: Schema.Number,
  pid: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `worker ${this.worker} (pid ${this.pid}) died: ${this.reason}`
  }
}

/** The request ran longer than `execTimeout`; its worker was replaced. */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", { ms: Schema.Number }) {
  override get message() {
    return `the request ran longer than ${this.ms} ms (execTimeout); its worker was replaced`
  }
}

/** The worker answered `err`. */
export class Application extends Schema.TaggedError<Application>()("Application", {
  code: Schema.String,
  message: Schema.String
}) {}

/** The worker broke the protocol (bad frame or message); it was killed. */
export class Protocol extends Schema.TaggedError<Protocol>()("Protocol", {
  worker: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `worker ${this.worker} broke the protocol: ${this.reason}`
  }
}

/** A pipe to the worker failed. */
export class Io extends Schema.TaggedError<Io>()("Io", { worker: Schema.Number, reason: Schema.String }) {
  override get message() {
    return `worker ${this.worker}: pipe error: ${this.reason}`
  }
}

export type PoolError = Busy | PoolFailed | ShuttingDown | WorkerDied | Timeout | Application | Protocol | Io
