import { Schema } from "effect"

import { ReloadFailed, ShuttingDown } from "../errors.ts"

export { ReloadFailed, ShuttingDown }

/** Another process holds the pier. */
export class PierLocked extends Schema.TaggedError<PierLocked>()("PierLocked", {
  dir: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `pier ${this.dir} is locked: ${this.reason}`
  }
}

/** The pier cannot be used with this serf or this liege: identity, protocol, format, or a snapshot ahead of the log. */
export class PierMismatch extends Schema.TaggedError<PierMismatch>()("PierMismatch", {
  dir: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `pier ${this.dir}: ${this.reason}`
  }
}

/** The pier's log could not be written or read. */
export class PierIo extends Schema.TaggedError<PierIo>()("PierIo", {
  dir: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `pier ${this.dir}: ${this.reason}`
  }
}

/**
 * Another writer claimed this pier's log (a runner that took the serf over,
 * SPEC §9): this pier lost the serf. Nothing of it was logged after the
 * claim; it stopped serving and killed its serf.
 */
export class PierFenced extends Schema.TaggedError<PierFenced>()("PierFenced", {
  dir: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `pier ${this.dir} lost the serf to another writer of its log: ${this.reason}`
  }
}

/** The serf died more than `maxRestarts` times within `restartWindow`. */
export class PierGaveUp extends Schema.TaggedError<PierGaveUp>()("PierGaveUp", {
  restarts: Schema.Number,
  windowMs: Schema.Number,
  last: Schema.String
}) {
  override get message() {
    return `the serf failed ${this.restarts} times within ${this.windowMs} ms; giving up (last: ${this.last})`
  }
}

/** The serf could not boot or replay its own log (a play-bail). */
export class PierBootFailed extends Schema.TaggedError<PierBootFailed>()("PierBootFailed", {
  eve: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `the serf refused event ${this.eve} while booting or replaying: ${this.reason}`
  }
}


/**
 * The serf died on this event, and again when it was sent alone (SPEC §3,
 * poison events): the event is refused and was not logged; the serf was
 * restarted and goes on with the events after it.
 */
export class SerfPoisoned extends Schema.TaggedError<SerfPoisoned>()("SerfPoisoned", {
  /** How the serf ended the second time, with the event alone: `code 70`, `signal SIGKILL`, … */
  last: Schema.String,
  /** Set when it was stuck on it rather than dead: the `workTimeout` it did not answer within. */
  stuckMs: Schema.optional(Schema.Number)
}) {
  override get message() {
    return this.stuckMs === undefined
      ? `the serf died on this event twice, the second time with it alone (last exit: ${this.last}); ` +
        `it was refused and not logged`
      : `the serf did not answer this event within ${this.stuckMs} ms (workTimeout) twice, the second time with ` +
        `it alone; it was refused and not logged`
  }
}

/**
 * The serf did not answer a `peek`, `save` or `pack` within `workTimeout`
 * (SPEC §3): it was killed, and the pier starts the next one.
 */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  writ: Schema.String,
  ms: Schema.Number
}) {
  override get message() {
    return `the serf did not answer the ${this.writ} within ${this.ms} ms (workTimeout); it was killed and is restarting`
  }
}
