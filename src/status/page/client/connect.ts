/// <reference lib="dom" />
/**
 * The status page's client, part 7 (see page/client/index.ts): the
 * connection. It reads `v1/status` once, then follows `v1/status/stream`
 * (Server-Sent Events read with `fetch` and a streaming body reader, so that
 * it can send `Authorization: Bearer T`; EventSource cannot), both next to
 * the page's own path. A stream silent for 4 s is taken for dead; a dropped
 * one keeps the last data, says "reconnecting…" and is tried again with
 * backoff (0.5 s doubling to 10 s, ±20 %). On 401 it asks for the token,
 * kept in sessionStorage (this tab only).
 *
 * Runs in the browser. This function is embedded in the page as its source
 * text, so it may refer to nothing outside itself but browser globals and
 * types.
 */
import type { Dom } from "./dom.ts"
import type { Formats } from "./format.ts"
import type { StatusView } from "./view.ts"

export const connect = (f: Formats, d: Dom, render: StatusView): void => {
  const { $, $as, txt, cls, attr } = d
  const KEY = "liege.token"
  /* the routes sit next to the page: /ui → /v1/status, /liege/ui → /liege/v1/status */
  const base = location.pathname.replace(/[^\/]*\/?$/, "") || "/"
  let token: string | null = null
  try {
    token = sessionStorage.getItem(KEY)
  } catch {
    token = null
  }
  /** When the document shown was taken (null before the first). */
  let lastAt: number | null = null
  /** The connection's generation: a callback of an older one does nothing. */
  let gen = 0
  let ctl: AbortController | null = null
  let retry = 0
  let stall = 0
  let attempt = 0

  const conn = (state: "connecting" | "live" | "reconnecting" | "error" | "auth", text: string): void => {
    attr(document.body, "data-conn", state)
    txt($("live-text"), text)
    const stale = lastAt !== null && state !== "live"
    for (const id of ["pool", "serf", "runner"]) $(id).classList.toggle("stale", stale)
  }
  const since = (): string => (lastAt === null ? "" : " · last update " + f.clock(lastAt))
  const accept = (doc: unknown): void => {
    try {
      lastAt = render(doc)
    } catch {
      return conn("error", "unreadable status document" + since())
    }
    attempt = 0
    conn("live", "live · updated " + f.clock(lastAt))
  }
  const headers = (type: string): Record<string, string> =>
    token !== null ? { Accept: type, Authorization: "Bearer " + token } : { Accept: type }
  const stop = (): void => {
    gen++
    if (ctl) {
      ctl.abort()
      ctl = null
    }
    window.clearTimeout(retry)
    window.clearTimeout(stall)
  }
  const start = (): void => {
    stop()
    const my = gen
    if (lastAt === null) conn("connecting", "connecting…")
    fetch(base + "v1/status", { headers: headers("application/json"), cache: "no-store" })
      .then(
        (res): boolean | Promise<boolean> => {
          if (my !== gen) return false
          if (res.status === 401) {
            unauthorized()
            return false
          }
          if (!res.ok) return true
          return res.json().then((doc: unknown) => {
            if (my === gen) accept(doc)
            return true
          })
        },
        () => true
      )
      .then(
        (go) => {
          if (go && my === gen) stream(my)
        },
        () => {
          if (my === gen) stream(my)
        }
      )
  }
  const stream = (my: number): void => {
    const c = new AbortController()
    ctl = c
    fetch(base + "v1/status/stream", { headers: headers("text/event-stream"), cache: "no-store", signal: c.signal })
      .then((res) => {
        if (my !== gen) return
        if (res.status === 401) {
          unauthorized()
          return
        }
        if (!res.ok || !res.body) throw new Error("HTTP " + res.status)
        return read(res.body.getReader(), my, c).then(() => dropped(my))
      })
      .catch(() => dropped(my))
  }
  const watch = (c: AbortController): void => {
    window.clearTimeout(stall)
    stall = window.setTimeout(() => c.abort(), 4000)
  }
  /* Server-Sent Events: "data:" lines gather into one event, a blank line ends it. */
  const read = (reader: ReadableStreamDefaultReader<Uint8Array>, my: number, c: AbortController): Promise<void> => {
    const dec = new TextDecoder()
    let buf = ""
    let data: Array<string> = []
    watch(c)
    const line = (l: string): void => {
      if (l === "") {
        if (data.length > 0) {
          const text = data.join("\n")
          data = []
          let doc: unknown
          try {
            doc = JSON.parse(text)
          } catch {
            conn("error", "unreadable status document" + since())
            return
          }
          accept(doc)
        }
        return
      }
      if (l.charCodeAt(0) === 58) return
      const i = l.indexOf(":")
      const field = i < 0 ? l : l.slice(0, i)
      let value = i < 0 ? "" : l.slice(i + 1)
      if (value.charCodeAt(0) === 32) value = value.slice(1)
      if (field === "data") data.push(value)
    }
    const pump = (): Promise<void> =>
      reader.read().then((r) => {
        if (my !== gen) {
          reader.cancel().catch(() => {})
          return
        }
        if (r.done) return
        watch(c)
        buf += dec.decode(r.value, { stream: true })
        let i: number
        while ((i = buf.indexOf("\n")) >= 0) {
          const l = buf.slice(0, i)
          buf = buf.slice(i + 1)
          line(l.charCodeAt(l.length - 1) === 13 ? l.slice(0, -1) : l)
        }
        return pump()
      })
    return pump()
  }
  const dropped = (my: number): void => {
    if (my !== gen) return
    window.clearTimeout(stall)
    ctl = null
    attempt++
    const delay = Math.min(10000, 500 * Math.pow(2, attempt - 1)) * (0.8 + Math.random() * 0.4)
    conn("reconnecting", "reconnecting…" + since())
    retry = window.setTimeout(() => {
      if (my === gen) stream(my)
    }, delay)
  }
  const unauthorized = (): void => {
    const had = token !== null
    stop()
    token = null
    try {
      sessionStorage.removeItem(KEY)
    } catch {
      /* private mode */
    }
    conn("auth", "token required")
    if (lastAt === null) {
      cls($("health-pill"), "pill s-unknown")
      txt($("health-text"), "Locked")
    }
    $("auth").hidden = false
    txt($("auth-msg"), had ? "The server did not accept that token." : "")
    const input = $as("token", HTMLInputElement)
    input.value = ""
    input.focus()
  }
  $("auth").addEventListener("submit", (ev) => {
    ev.preventDefault()
    const v = $as("token", HTMLInputElement).value.trim()
    if (v === "") return txt($("auth-msg"), "Enter the token.")
    if (!/^[\x20-\x7e]+$/.test(v)) return txt($("auth-msg"), "A token is sent in a header: printable ASCII only.")
    token = v
    try {
      sessionStorage.setItem(KEY, v)
    } catch {
      /* private mode */
    }
    $("auth").hidden = true
    txt($("auth-msg"), "")
    start()
  })
  start()
}
