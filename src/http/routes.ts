/**
 * The route table (SPEC §8): every route of a server as data — method,
 * pattern, name, whether it needs the token, whether it takes work (and so
 * is refused while liege drains), and its handler. One matcher decides for
 * all of them: 404 for a path no route has, 405 (with `Allow`) for a path
 * whose method is wrong, and the name every answer is counted under.
 *
 * Patterns are paths whose segments may be `:name` (one segment, percent-
 * decoded) or, last, `*` (the rest: zero or more segments, decoded).
 */
import type { Effect } from "effect"
import type { Body } from "./body.ts"
import { errorResponse, type Response } from "./response.ts"

/**
 * What a handler is given of the request. An app route's handler runs once
 * the body has arrived (at most `--max-body` of it): `body()` checks it then
 * (once, when first asked).
 */
export interface RouteRequest {
  readonly method: string
  readonly path: string
  /** The query as sent, with its `?` (`""` for none); `query` holds its params. */
  readonly search: string
  readonly query: URLSearchParams
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  /** The body as JSON, checked (size, UTF-8, Unicode, depth), or the response that refuses it. */
  readonly body: () => Body | Response
  /** The same as an Effect: the failure is the response to send. */
  readonly json: Effect.Effect<Body, Response>
  /** The pattern's `:name` segments. */
  readonly params: Readonly<Record<string, string>>
  /** What the pattern's `*` matched. */
  readonly rest: ReadonlyArray<string>
}

export interface Route {
  readonly method: "GET" | "POST"
  readonly pattern: string
  /** Its name in `liege_http_requests_total`. */
  readonly name: string
  /** Answered without the token (the probes, the page). */
  readonly open?: boolean
  /** It takes new work: while liege drains it is answered 503 `ShuttingDown`. */
  readonly work?: boolean
  readonly handle: (request: RouteRequest) => Effect.Effect<Response>
  /**
   * The same answer without a fiber, for a route's hot path (used unless
   * spans are on; `traceparent` is the request's, checked): `"handle"` for a
   * request it leaves to `handle`; else it calls `reply` exactly once, at
   * once (`"replied"`) or later — then it returns what cancels the work if
   * the client goes away first.
   */
  readonly direct?: (
    request: RouteRequest,
    traceparent: string | undefined,
    reply: (response: Response) => void
  ) => (() => void) | "replied" | "handle"
}

interface Compiled {
  readonly route: Route
  readonly segments: ReadonlyArray<string>
  readonly wild: boolean
}

export type Match =
  | { readonly _tag: "Found"; readonly route: Route; readonly params: Record<string, string>; readonly rest: ReadonlyArray<string> }
  | { readonly _tag: "Refused"; readonly name: string; readonly response: Response }

const split = (path: string) => path.split("/").filter((s) => s !== "")

/** The characters a path may hold and mean itself (no `.`, no `\`, nothing `URL` would encode), by code. */
const PLAIN = new Uint8Array(128)
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~!$&'()*+,;=:@/%") PLAIN[c.charCodeAt(0)] = 1

/** A request target's path and query (as sent, with its `?`; `""` for none). */
export interface Target {
  readonly path: string
  readonly search: string
}

const viaUrl = (target: string): Target | undefined => {
  let url: URL
  try {
    url = new URL(target, "http://liege")
  } catch {
    // `//` (an empty authority), say
    return undefined
  }
  return { path: url.pathname, search: url.search }
}

/**
 * The path and query of a request target, as `new URL(target, base)` reads
 * them, without building a URL for the usual target: `/` then plain path
 * characters (no dot segment, no `\`, no `//` at the start), then
 * printable ASCII after `?` (no `#`). Anything else goes through `URL`;
 * undefined when it is not a URL at all.
 */
export const parseTarget = (target: string): Target | undefined => {
  const n = target.length
  if (n === 0 || target.charCodeAt(0) !== 0x2f || (n > 1 && target.charCodeAt(1) === 0x2f)) return viaUrl(target)
  let i = 1
  for (; i < n; i++) {
    const c = target.charCodeAt(i)
    if (c === 0x3f) break
    if (c >= 128 || PLAIN[c] === 0) return viaUrl(target)
    // `%2e` is a dot: URL resolves dot segments
    if (c === 0x25 && target.charCodeAt(i + 1) === 0x32 && (target.charCodeAt(i + 2) | 0x20) === 0x65) return viaUrl(target)
  }
  if (i >= n - 1) return { path: i === n ? target : target.slice(0, i), search: "" }
  for (let k = i + 1; k < n; k++) {
    const c = target.charCodeAt(k)
    if (c <= 0x20 || c >= 0x7f || c === 0x23) return viaUrl(target)
  }
  return { path: target.slice(0, i), search: target.slice(i) }
}

/** The table's matcher: a path and a method to a route (with its params), or the refusal to answer. */
export const table = (routes: ReadonlyArray<Route>) => {
  const compiled: Array<Compiled> = routes.map((route) => {
    const segments = split(route.pattern)
    const wild = segments.at(-1) === "*"
    return { route, segments: wild ? segments.slice(0, -1) : segments, wild }
  })
  const bind = (c: Compiled, parts: ReadonlyArray<string>): { params: Record<string, string>; rest: Array<string> } | "bad" | undefined => {
    if (c.wild ? parts.length < c.segments.length : parts.length !== c.segments.length) return undefined
    const params: Record<string, string> = {}
    for (let i = 0; i < c.segments.length; i++) {
      const seg = c.segments[i]!
      if (seg.startsWith(":")) params[seg.slice(1)] = parts[i]!
      else if (seg !== parts[i]) return undefined
    }
    try {
      for (const k of Object.keys(params)) params[k] = decodeURIComponent(params[k]!)
      return { params, rest: parts.slice(c.segments.length).map(decodeURIComponent) }
    } catch {
      return "bad"
    }
  }
  const general = (method: string, path: string): Match => {
    const parts = split(path)
    const allowed: Array<string> = []
    let name = "unmatched"
    for (const c of compiled) {
      const bound = bind(c, parts)
      if (bound === undefined) continue
      name = c.route.name
      if (bound === "bad") {
        return { _tag: "Refused", name, response: errorResponse(400, "BadPath", "the path is not valid percent-encoding") }
      }
      if (c.route.method === method) return { _tag: "Found", route: c.route, params: bound.params, rest: bound.rest }
      allowed.push(c.route.method)
    }
    if (allowed.length === 0) return { _tag: "Refused", name, response: errorResponse(404, "NotFound", `no route for ${method} ${path}`) }
    return {
      _tag: "Refused",
      name,
      response: { ...errorResponse(405, "MethodNotAllowed", `${path} takes ${allowed.join(" or ")}`), headers: { allow: allowed.join(", ") } }
    }
  }
  /**
   * The answers for the paths of the patterns without `:name` or `*` (most
   * requests), worked out once by the same matcher: a request to one of
   * them, written as its pattern, is a lookup.
   */
  const exact = new Map<string, Map<string, Match>>()
  for (const c of compiled) {
    if (c.wild || c.segments.some((s) => s.startsWith(":"))) continue
    const path = `/${c.segments.join("/")}`
    if (exact.has(path)) continue
    const answers = new Map<string, Match>()
    for (const method of ["GET", "POST"]) {
      const m = general(method, path)
      answers.set(method, m._tag === "Found" ? Object.freeze({ ...m, params: Object.freeze(m.params), rest: Object.freeze(m.rest) }) : m)
    }
    exact.set(path, answers)
  }
  return (method: string, path: string): Match => exact.get(path)?.get(method) ?? general(method, path)
}
