/**
 * Errors that belong to no single part: every part that takes options or
 * can be shut down uses these same classes (and re-exports them).
 */
import { Schema } from "effect"

/** An option was rejected before anything was spawned. */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `invalid option ${this.field}: ${this.reason}`
  }
}

/** The pool or pier is stopping: this request was not (or could not be) served. */
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", {
  reason: Schema.String
}) {
  override get message() {
    return `shutting down: ${this.reason}`
  }
}

/**
 * A reload (SPEC §5, §8) did not complete: the new worker or serf failed
 * (its boot, its replay, another mug) or liege is stopping. What was
 * serving before goes on serving.
 */
export class ReloadFailed extends Schema.TaggedError<ReloadFailed>()("ReloadFailed", {
  reason: Schema.String
}) {
  override get message() {
    return `reload failed: ${this.reason}`
  }
}
