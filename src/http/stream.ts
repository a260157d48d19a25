/**
 * `GET /v1/status/stream` (SPEC §10): the status document as Server-Sent
 * Events, about twice a second, to everyone listening. The document is built
 * once per tick whatever the number of listeners, and the timer runs only
 * while someone listens: with no listener nothing is built or sent.
 */
import type * as http from "node:http"

export interface StatusStream {
  /** Adds a listener: the response becomes an event stream until the client goes. */
  readonly listen: (res: http.ServerResponse) => void
  readonly listeners: () => number
  /** Ends every stream (the server is stopping). */
  readonly close: () => void
}

/**
 * `build(publish)` makes the document (in the server's runtime) and hands it
 * to `publish`, which writes it to every listener.
 */
export const makeStatusStream = (build: (publish: (doc: unknown) => void) => void, intervalMs = 500): StatusStream => {
  const open = new Set<http.ServerResponse>()
  let timer: ReturnType<typeof setInterval> | undefined

  const publish = (doc: unknown) => {
    const text = `data: ${JSON.stringify(doc)}\n\n`
    for (const res of open) res.write(text)
  }

  const tick = () => build(publish)

  const drop = (res: http.ServerResponse) => {
    open.delete(res)
    if (open.size === 0 && timer !== undefined) {
      clearInterval(timer)
      timer = undefined
    }
  }

  return {
    listen: (res) => {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "x-accel-buffering": "no"
      })
      res.write("retry: 1000\n\n")
      open.add(res)
      // the first document at once, for this listener only
      build((doc) => {
        if (open.has(res)) res.write(`data: ${JSON.stringify(doc)}\n\n`)
      })
      res.once("close", () => drop(res))
      if (timer === undefined) {
        timer = setInterval(tick, intervalMs)
        timer.unref()
      }
    },
    listeners: () => open.size,
    close: () => {
      for (const res of [...open]) {
        res.end()
        drop(res)
      }
    }
  }
}
