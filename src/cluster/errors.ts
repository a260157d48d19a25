/**
 * Errors of the cluster's PostgreSQL storage (SPEC §9): the serfs' logs and
 * the session jobs.
 */
import { Schema } from "effect"
import type { SqlError } from "effect/sql/SqlError"

/**
 * What went wrong in words: @effect/sql-pg's own message is generic
 * ("PgConnection: Query failed"); PostgreSQL's message and SQLSTATE are in
 * the reason's cause.
 */
export const sqlReason = (e: SqlError): string => {
  const cause = e.reason.cause as { message?: unknown; code?: unknown } | undefined
  const server = typeof cause?.message === "string" && cause.message.length > 0 ? cause.message : undefined
  if (server === undefined || server === e.message) return e.message
  return typeof cause?.code === "string" ? `${e.message}: ${server} (SQLSTATE ${cause.code})` : `${e.message}: ${server}`
}

/**
 * A newer writer has claimed this serf's log: this one may not write to it
 * any more (it lost the serf, maybe without knowing). Nothing was written.
 */
export class LogFenced extends Schema.TaggedError<LogFenced>()("LogFenced", {
  serf: Schema.String,
  /** This writer's epoch. */
  epoch: Schema.Number,
  /** The epoch that holds the log now. */
  current: Schema.Number
}) {
  override get message() {
    return `serf ${this.serf}: the log is held by a newer writer (epoch ${this.current}, this writer has ${this.epoch}); nothing was written`
  }
}

/** The log refused what it was given (out of order, not exact, bad id): nothing was written. */
export class LogRefused extends Schema.TaggedError<LogRefused>()("LogRefused", {
  serf: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `serf ${this.serf}: ${this.reason}`
  }
}

/**
 * The database could not be reached or failed the statement. For an append
 * the outcome may be unknown (a connection lost at commit): the writer
 * reads its last event again before the next append.
 */
export class LogIo extends Schema.TaggedError<LogIo>()("LogIo", {
  serf: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `serf ${this.serf}: the log's database failed: ${this.reason}`
  }
}

/** A newer owner has claimed this session: this one may not start, requeue or settle its jobs. */
export class JobFenced extends Schema.TaggedError<JobFenced>()("JobFenced", {
  session: Schema.String,
  epoch: Schema.Number,
  current: Schema.Number
}) {
  override get message() {
    return `session ${this.session}: owned by a newer owner (epoch ${this.current}, this owner has ${this.epoch}); nothing was changed`
  }
}

/** The job store refused what it was given (not JSON, not exact): nothing was written. */
export class JobRefused extends Schema.TaggedError<JobRefused>()("JobRefused", {
  reason: Schema.String
}) {
  override get message() {
    return `job store: ${this.reason}`
  }
}

/** The jobs' database could not be reached or failed the statement. */
export class JobIo extends Schema.TaggedError<JobIo>()("JobIo", {
  reason: Schema.String
}) {
  override get message() {
    return `job store: the database failed: ${this.reason}`
  }
}
