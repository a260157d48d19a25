import { Schema } from "effect"

/** The operating system refused to start the command (not found, not executable, bad cwd…). */
export class SpawnFailed extends Schema.TaggedError<SpawnFailed>()("SpawnFailed", {
  command: Schema.String,
  code: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot start ${JSON.stringify(this.command)}: ${this.reason}`
  }
}
