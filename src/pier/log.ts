/**
 * What the pier needs of its log (SPEC §3), whatever holds it: the embedded
 * SQLite database of `liege serf` (./sqlite.ts) or a serf's log in the
 * cluster's PostgreSQL (../cluster/pier-log.ts, SPEC §9).
 *
 * A log is opened (and, for PostgreSQL, claimed) by its owner, who also
 * closes it; the pier only uses it. One pier writes a log at a time: SQLite
 * by its file lock (`PierLocked`), PostgreSQL by the fencing epoch of the
 * claim, checked in the transaction of every write (`PierFenced` once
 * another writer has claimed the log: fatal for the pier).
 *
 * The record of the running serf process (to reap a serf a killed liege
 * left behind) is not the log's: it belongs to the machine the serf runs
 * on. It is a `Leftover` (./leftover.ts), next to the log.
 */
import type { Effect } from "effect"
import type { PierFenced, PierIo, PierMismatch } from "./errors.ts"

/** The format of a pier's log this liege reads and writes. */
export const PIER_VERSION = 1

export interface LoggedEvent {
  readonly eve: number
  readonly wen: number
  /** The serf's mug after the event, or null when not reported (the inner events of a boot `play`). */
  readonly mug: number | null
  /** The event as JSON text. */
  readonly ev: string
  /**
   * The caller's key for the event and its effects (JSON text), kept by logs
   * that answer a re-sent event from the log (the cluster's); others ignore them.
   */
  readonly key?: string | undefined
  readonly fec?: string | undefined
}

/** A logged event as a row, `[eve, wen, mug, ev]`: what a log can give without making an object per event. */
export type LoggedRow = readonly [eve: number, wen: number, mug: number | null, ev: string]

/**
 * `Lost` is how a write says another writer has the log: `PierFenced` for a
 * fenced log, never for one held by a file lock (SQLite).
 */
export interface PierLog<Lost extends PierFenced = PierFenced> {
  /** The last logged event (0 for an empty log), read from the log. */
  readonly last: Effect.Effect<number, PierIo>
  /**
   * Appends a group commit: consecutive events following the last logged
   * one, in one transaction. On failure nothing was written — except after a
   * `PierIo` whose outcome is unknown (a connection lost at commit): `last`
   * tells, read again.
   */
  readonly append: (events: ReadonlyArray<LoggedEvent>) => Effect.Effect<void, PierIo | Lost>
  /**
   * The same append, done now, for a log that can do it synchronously
   * (SQLite): undefined once it is committed, else why not. The pier's hot
   * path uses it when it is there.
   */
  readonly appendNow?: ((events: ReadonlyArray<LoggedEvent>) => PierIo | Lost | undefined) | undefined
  /** Events in (after, upTo], at most `limit`, in order. */
  readonly read: (after: number, upTo: number, limit: number) => Effect.Effect<ReadonlyArray<LoggedEvent>, PierIo>
  /**
   * The same events as rows, for a log that has them so (SQLite): a replay
   * reads its batches with it when it is there.
   */
  readonly readRows?: ((after: number, upTo: number, limit: number) => Effect.Effect<ReadonlyArray<LoggedRow>, PierIo>) | undefined
  /** The logged mug of event `eve` (null when not recorded or absent). */
  readonly mugOf: (eve: number) => Effect.Effect<number | null, PierIo>
  /** The identity of the serf the log was made by (`{"pro","hon","nok"}` as JSON text); undefined for a new log. */
  readonly identity: Effect.Effect<string | undefined, PierIo>
  /** Records the serf identity (the first serf of a new log). */
  readonly setIdentity: (identity: string) => Effect.Effect<void, PierIo | Lost>
  /** The pier format check: a new log is marked `PIER_VERSION`; a log of another format is refused. */
  readonly checkFormat: Effect.Effect<void, PierMismatch | PierIo | Lost>
  /** The log's size on disk in bytes, or null when it cannot be told (a log inside a shared database). */
  readonly sizeOnDisk: Effect.Effect<number | null>
}

/** The format check's verdict on the version a log records (undefined: none yet). */
export const formatProblem = (where: string, recorded: string | undefined): string | undefined =>
  recorded === undefined || Number(recorded) === PIER_VERSION
    ? undefined
    : `${where} has pier format ${recorded}; this liege reads format ${PIER_VERSION}`
