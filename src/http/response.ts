/**
 * An HTTP answer: a status and a body (JSON unless said otherwise). Errors
 * are `{"error": {"tag", "message", …}}` with plain fields only (SPEC §8).
 */
import type * as http from "node:http"
import type { Stream } from "effect"

export interface Response {
  readonly status: number
  readonly contentType: string
  /** The body (with `events`: the text before the first event). */
  readonly body: string
  readonly headers?: Readonly<Record<string, string>>
  /** A streamed body (Server-Sent Events): each element one event's text, written as the client takes them. */
  readonly events?: Stream.Stream<string> | undefined
  /** The body is written by this (the status stream's own listeners). */
  readonly raw?: ((res: http.ServerResponse) => void) | undefined
}

export const ok = (value: unknown, status = 200): Response => ({
  status,
  contentType: "application/json",
  body: JSON.stringify(value)
})

/** `{"error": {"tag", "message", …extra}}`: plain fields only. */
export const errorResponse = (status: number, tag: string, message: string, extra: Record<string, unknown> = {}): Response =>
  ok({ error: { ...extra, tag, message } }, status)
