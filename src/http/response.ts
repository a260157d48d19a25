/**
 * An HTTP answer: a status and a body (JSON unless said otherwise). Errors
 * are `{"error": {"tag", "message", …}}` with plain fields only (SPEC §8).
 */
export interface Response {
  readonly status: number
  readonly contentType: string
  readonly body: string
  readonly headers?: Readonly<Record<string, string>>
}

export const ok = (value: unknown, status = 200): Response => ({
  status,
  contentType: "application/json",
  body: JSON.stringify(value)
})

/** `{"error": {"tag", "message", …extra}}`: plain fields only. */
export const errorResponse = (status: number, tag: string, message: string, extra: Record<string, unknown> = {}): Response =>
  ok({ error: { ...extra, tag, message } }, status)
