/**
 * The pool worker protocol (SPEC §5).
 *
 *   worker → host  {"t":"ready","pro":1}                      first frame
 *   host → worker  {"t":"req","id":n,"payload":any}        (+ "stream": credit, "trace": traceparent)
 *   worker → host  {"t":"res","id":n,"ok":any}  or  {"t":"res","id":n,"err":{"code","message"}}
 *   host → worker  {"t":"cancel","id":n}                      the caller is gone
 *
 * Streaming answers: a `req` with `"stream": n` (the first credit) may be
 * answered by `{"t":"chunk","id":n,"data":any}` frames before its `res`,
 * never more than the credit granted so far; the host grants more with
 * `{"t":"credit","id":n,"n":k}` as its consumer takes the chunks.
 */
import { Schema } from "effect"

export const PROTOCOL_VERSION = 1

export const Ready = Schema.Struct({ t: Schema.Literal("ready"), pro: Schema.Int })
export const Req = Schema.Struct({
  t: Schema.Literal("req"),
  id: Schema.Int,
  payload: Schema.Unknown,
  /** Asks for a streaming answer: the first credit. */
  stream: Schema.optional(Schema.Int),
  /** The W3C traceparent of the span the request runs in (SPEC §1). */
  trace: Schema.optional(Schema.String)
})
export const Cancel = Schema.Struct({ t: Schema.Literal("cancel"), id: Schema.Int })
export const Chunk = Schema.Struct({ t: Schema.Literal("chunk"), id: Schema.Int, data: Schema.Unknown })
export const Credit = Schema.Struct({ t: Schema.Literal("credit"), id: Schema.Int, n: Schema.Int })
export const WorkerErr = Schema.Struct({ code: Schema.String, message: Schema.String })
export const ResOk = Schema.Struct({ t: Schema.Literal("res"), id: Schema.Int, ok: Schema.Unknown })
export const ResErr = Schema.Struct({ t: Schema.Literal("res"), id: Schema.Int, err: WorkerErr })

export type Res = typeof ResOk.Type | typeof ResErr.Type

const isReady = Schema.is(Ready)
// on every answer: plain guards, the same checks as the Schemas above (an integer; two strings)
const isId = (u: unknown): u is number => typeof u === "number" && Number.isInteger(u)
const isWorkerErr = (u: unknown): u is typeof WorkerErr.Type =>
  typeof u === "object" && u !== null && typeof (u as { code?: unknown }).code === "string" &&
  typeof (u as { message?: unknown }).message === "string"

const isRecord = (m: unknown): m is Readonly<Record<string, unknown>> => typeof m === "object" && m !== null

/** Exactly one of `ok` (any value, present) and `err` ({code, message} strings), and an integer id. */
const isRes = (m: Readonly<Record<string, unknown>>): m is Res =>
  m["t"] === "res" && isId(m["id"]) && ("ok" in m ? !("err" in m) : isWorkerErr(m["err"]))

/** A `ready`, or why the first frame is not one. */
export const checkReady = (m: unknown): { readonly pro: number } | string =>
  isReady(m) ? m : `expected {"t":"ready","pro":1} first, got ${JSON.stringify(m).slice(0, 200)}`

/** A `res`, or why the message is not one. */
export const checkRes = (m: unknown): Res | string => {
  if (!isRecord(m)) return `unexpected message ${JSON.stringify(m)} (expected res)`
  if (isRes(m)) return m
  if (m["t"] !== "res") return `unexpected message ${JSON.stringify(m["t"])} (expected res)`
  if (!isId(m["id"])) return "res needs an integer id"
  if ("ok" in m === "err" in m) return "res needs exactly one of ok and err"
  return "res err must be {code: string, message: string}"
}

/** A `chunk` (its id and data present), or why the message is not one. */
export const checkChunk = (m: Readonly<Record<string, unknown>>): { readonly id: number; readonly data: unknown } | string =>
  !isId(m["id"]) ? "chunk needs an integer id" : !("data" in m) ? "chunk needs data" : m as { readonly id: number; readonly data: unknown }
