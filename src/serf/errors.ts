/**
 * What can go wrong between a host and its serf. Every error names the serf
 * (its pid) and says what to do about it where there is something to do.
 */
import { Schema } from "effect"
import { Result } from "../supervisor/result.ts"

/** The serf handle is dead: a flow failed or was interrupted holding the lock, or the serf stopped. */
export class SerfNotRunning extends Schema.TaggedError<SerfNotRunning>()("SerfNotRunning", {
  pid: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `serf ${this.pid} is not running: ${this.reason}`
  }
}

/** The serf exited (or was killed) while an answer was owed. */
export class SerfDied extends Schema.TaggedError<SerfDied>()("SerfDied", {
  pid: Schema.Number,
  result: Schema.NullOr(Result)
}) {
  /** How it ended: `code 70`, `signal SIGKILL`, or `its pipes closed` (the exit not seen yet). */
  get how(): string {
    const r = this.result
    return r === null ? "its pipes closed" : r.how
  }

  override get message() {
    return `serf ${this.pid} died (${this.how}) while an answer was owed`
  }
}

/** The serf did not send `ripe` within `bootTimeout`. */
export class SerfBootTimeout extends Schema.TaggedError<SerfBootTimeout>()("SerfBootTimeout", {
  pid: Schema.Number,
  ms: Schema.Number
}) {
  override get message() {
    return `serf ${this.pid} sent no ripe within ${this.ms} ms (bootTimeout)`
  }
}

/**
 * The serf did not answer its oldest writ within `workTimeout`, or a ping
 * within `heartbeat` (SPEC §1, §3): it is alive but stuck, and was killed.
 */
export class SerfStuck extends Schema.TaggedError<SerfStuck>()("SerfStuck", {
  pid: Schema.Number,
  /** The writ it did not answer: `work`, `peek`, `save`, `pack`, `play`, or `ping`. */
  writ: Schema.String,
  ms: Schema.Number
}) {
  /** The option whose limit it missed. */
  get limit(): "heartbeat" | "workTimeout" {
    return this.writ === "ping" ? "heartbeat" : "workTimeout"
  }

  /** What it did not do: `no answer to its work within 500 ms (workTimeout)`. */
  get how(): string {
    return `no answer to ${this.writ === "ping" ? "a ping" : `its ${this.writ}`} within ${this.ms} ms (${this.limit})`
  }

  override get message() {
    return `serf ${this.pid} is stuck: ${this.how}`
  }
}

/** The serf broke the protocol: a bad frame, an unknown or unexpected plea, a wrong event number. */
export class SerfProtocolError extends Schema.TaggedError<SerfProtocolError>()("SerfProtocolError", {
  pid: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `serf ${this.pid} broke the protocol: ${this.reason}`
  }
}

/** The serf speaks another protocol version: restarting it will not help. */
export class SerfIncompatible extends Schema.TaggedError<SerfIncompatible>()("SerfIncompatible", {
  pid: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `serf ${this.pid} is incompatible: ${this.reason}`
  }
}

/** Replay reached a different state than the log recorded. */
export class ReplayDiverged extends Schema.TaggedError<ReplayDiverged>()("ReplayDiverged", {
  eve: Schema.Number,
  logged: Schema.Number,
  serf: Schema.Number
}) {
  override get message() {
    return `event ${this.eve}: logged mug ${this.logged}, serf mug ${this.serf}`
  }
}

/** Swim (replay through `work`) met a bail or a swap. */
export class SwimFailed extends Schema.TaggedError<SwimFailed>()("SwimFailed", {
  eve: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `swim stopped at event ${this.eve}: ${this.reason}`
  }
}

/** The event cannot be encoded by the codec (a BigInt, a cycle…): it was not sent. */
export class EventNotEncodable extends Schema.TaggedError<EventNotEncodable>()("EventNotEncodable", {
  reason: Schema.String
}) {
  override get message() {
    return `the event cannot be encoded: ${this.reason}`
  }
}

export type SerfError = SerfNotRunning | SerfDied | SerfStuck | SerfBootTimeout | SerfProtocolError | EventNotEncodable
