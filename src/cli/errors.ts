import { Schema } from "effect"

/** Bad flags or configuration found before anything is spawned: exit status 2, one line on stderr. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String
}) {}

/** A subcommand's decided exit status (with the line to print, if any). */
export class ExitStatus extends Schema.TaggedError<ExitStatus>()("ExitStatus", {
  status: Schema.Int,
  line: Schema.NullOr(Schema.String)
}) {}
