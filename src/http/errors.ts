/**
 * One map from every tagged error liege answers with to its HTTP answer
 * (SPEC §8): a status, the tag shown, and the plain fields the body carries
 * (never a stack trace or a file path). `liege pool`, `liege serf` and the
 * cluster all answer through it: the map is typed over every error the
 * servers can meet, so a new one fails tsc until it has its answer.
 *
 * The edge's own refusals (a bad body, a bad id, 404, 405, 401) are built
 * where they are decided (./routes.ts, ./body.ts); these are the errors of
 * the parts behind the edge.
 */
import type { JobIo, JobRefused } from "../cluster/errors.ts"
import type { ReloadFailed } from "../errors.ts"
import type { PokeError } from "../pier/types.ts"
import type { PoolError } from "../pool/errors.ts"
import type { RunnerStoreError } from "../runner/runner.ts"
import { errorResponse, type Response } from "./response.ts"

/** Every error a server answers with, and the tags of the cluster's way to a serf (`Refusal`s that carry only a tag). */
export type Answered = PoolError | PokeError | RunnerStoreError | JobRefused | JobIo | ReloadFailed
type Tag = Answered["_tag"] | "SerfUnavailable" | "DatabaseUnreachable"

interface Entry {
  readonly status: number
  /** The tag the body shows, when not the error's own. */
  readonly shown?: string
  /** The plain fields (strings, numbers, booleans) the body carries besides tag and message. */
  readonly fields?: ReadonlyArray<string>
}

const entries: { readonly [T in Tag]: Entry } = {
  // the pool (SPEC §5, §8)
  Busy: { status: 503, fields: ["queued", "waitedMs"] },
  PoolFailed: { status: 503, fields: ["reason"] },
  ShuttingDown: { status: 503, fields: ["reason"] },
  WorkerDied: { status: 502, fields: ["worker", "pid", "reason"] },
  Timeout: { status: 504, fields: ["ms", "writ"] },
  // a worker's `err`: its refusal, or (code `internal`) its crash: see `statusOf`
  Application: { status: 422, fields: ["code"] },
  Protocol: { status: 502, fields: ["worker", "reason"] },
  Io: { status: 502, fields: ["worker", "reason"] },
  // the pier (SPEC §3, §8): a poison event is the caller's; the rest is liege's side, and passes
  SerfPoisoned: { status: 422, shown: "Poison" },
  PierIo: { status: 500 },
  ReplayDiverged: { status: 503 },
  PierMismatch: { status: 503 },
  PierGaveUp: { status: 503 },
  PierBootFailed: { status: 503 },
  PierFenced: { status: 503 },
  SpawnFailed: { status: 503 },
  InvalidOptions: { status: 503 },
  SerfIncompatible: { status: 503 },
  // a reload (SPEC §5, §8) that did not complete: what served before goes on
  ReloadFailed: { status: 500, fields: ["reason"] },
  // the session jobs' stores
  RunnerStoreError: { status: 500 },
  JobRefused: { status: 400 },
  JobIo: { status: 503 },
  // the cluster's way to a serf: it is moving (SPEC §9: a 5xx, never a 4xx), or this runner lost its database
  SerfUnavailable: { status: 503 },
  DatabaseUnreachable: { status: 503 }
}

/** What a tag answers with; an unknown tag (from another runner, say) is a 503: liege's side, passing. */
const entryOf = (tag: string): Entry => (entries as Record<string, Entry | undefined>)[tag] ?? { status: 503 }

/** The status an error answers with. */
export const statusOf = (e: { readonly _tag: string; readonly code?: unknown }): number =>
  e._tag === "Application" && e.code === "internal" ? 500 : entryOf(e._tag).status

const plain = (v: unknown) => v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean"

/** The fields of `e` its answer carries (by its tag's entry), plain values only. */
export const fieldsOf = (e: { readonly _tag: string }): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const k of entryOf(e._tag).fields ?? []) {
    const v = (e as unknown as Record<string, unknown>)[k]
    if (v !== undefined && plain(v)) out[k] = v
  }
  return out
}

/** The tag an error's answer shows (`SerfPoisoned` is `Poison`). */
export const shownTag = (tag: string): string => entryOf(tag).shown ?? tag

/** The HTTP answer of an error: `{"error": {"tag", "message", …fields}}` with its status. */
export const answerOf = (e: Answered | { readonly _tag: string; readonly message: string }): Response =>
  errorResponse(statusOf(e), shownTag(e._tag), e.message, fieldsOf(e))

/** The same, for an error known by its tag, message and fields only (a cluster refusal). */
export const answerOfTag = (tag: string, message: string, fields: Record<string, unknown> = {}): Response => {
  const e = { ...fields, _tag: tag }
  return errorResponse(statusOf(e), shownTag(tag), message, fieldsOf(e))
}
