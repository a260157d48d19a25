/**
 * Write a serf in Node in a few lines (SPEC §2, worker side). The SDK speaks
 * the protocol — `ripe` at start, `play`, `work`, `peek`, `save`, `pack`,
 * `exit` — and a serf only says what an event does to its state:
 *
 * ```ts
 * runSerf({
 *   load: (pier) => …,            // restore a snapshot: { eve, mug } or undefined
 *   poke: (ev, ctx) => effects,  // apply one event; throw to refuse it
 *   mug: () => hash,             // 32-bit hash of the state
 *   peek: (path) => value,
 *   save: (eve, mug, pier) => …  // write a snapshot
 * })
 * ```
 *
 * A `play` batch stops at the first event that throws (`play-bail`, with the
 * state as it was before that event). A `work` event that throws is answered
 * `work-swap` when `swap` offers a replacement that applies, else `work-bail`.
 * A goof carries the error's name and message lines, never its stack.
 *
 * Trace context (SPEC §1): a `work` writ may carry `trace`, the W3C
 * traceparent of the span the event is worked in; it is `ctx.trace` in
 * `poke` and `swap` (undefined during `play`, for a writ without one, and
 * for a `trace` that is not a string). It is not logged: a replayed event
 * has none, so the state must never depend on it.
 */
import { connect, type WorkerIo } from "./io.ts"

export interface Goof {
  readonly mote: string
  readonly tang: ReadonlyArray<string>
}

export interface PokeContext {
  /** The event number this event will have. */
  readonly eve: number
  readonly wen: number
  /** True during `play` (boot and replay), false for live `work`. */
  readonly replaying: boolean
  /**
   * The W3C traceparent of the span a live event is worked in, as the host
   * sent it; undefined during `play` and when the writ carries none.
   */
  readonly trace: string | undefined
}

export interface SerfDefinition {
  /** Opaque versions reported in `ripe` (default 1 and 1); the pier refuses a change. */
  readonly hon?: number
  readonly nok?: number
  /** Restores the snapshot in the pier folder, if any: its event number and mug. */
  readonly load?: (pier: string | undefined) => { readonly eve: number; readonly mug: number } | undefined
  /** Applies one event and returns its effects; throws to refuse it. */
  readonly poke: (ev: unknown, ctx: PokeContext) => ReadonlyArray<unknown> | void
  /** A replacement for a live event that threw (a swap), or undefined (or null) to bail. */
  readonly swap?: (ev: unknown, goof: Goof, ctx: PokeContext) => unknown
  /** The 32-bit unsigned hash of the current state. */
  readonly mug: () => number
  readonly peek: (
    path: ReadonlyArray<string>,
    ctx: { readonly now: number; readonly gang: ReadonlyArray<string> | null }
  ) => unknown
  /** Writes a snapshot of the state at `eve`. */
  readonly save?: (eve: number, mug: number, pier: string | undefined) => void
  /** Compacts the state. */
  readonly pack?: () => void
}

/** The lines of a message ("" has none). */
const linesOf = (text: string): Array<string> =>
  text === "" ? [] : text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l))

/**
 * A goof for a thrown value: an error's name and its message lines — never
 * its stack, which would carry the serf's file paths to every caller.
 */
export const goofOf = (e: unknown): Goof => {
  if (e instanceof Error) return { mote: e.name, tang: linesOf(e.message) }
  return { mote: "exit", tang: linesOf(String(e)) }
}

interface Writ {
  readonly t: string
  readonly [k: string]: unknown
}

export const runSerf = (serf: SerfDefinition): WorkerIo => {
  const pier = process.env["LIEGE_PIER"]
  const snapshot = serf.load?.(pier)
  let eve = snapshot?.eve ?? 0

  const effectsOf = (fx: ReadonlyArray<unknown> | void): ReadonlyArray<unknown> => fx ?? []

  const play = (io: WorkerIo, first: number, events: ReadonlyArray<{ wen: number; ev: unknown }>) => {
    if (first !== eve + 1) {
      return io.send({
        t: "play-bail",
        eve: first,
        mug: serf.mug(),
        dud: { mote: "eve", tang: [`play from ${first}, but this serf is at ${eve}`] }
      })
    }
    for (const { wen, ev } of events) {
      const mugBefore = serf.mug()
      try {
        serf.poke(ev, { eve: eve + 1, wen, replaying: true, trace: undefined })
      } catch (e) {
        return io.send({ t: "play-bail", eve: eve + 1, mug: mugBefore, dud: goofOf(e) })
      }
      eve++
    }
    io.send({ t: "play-done", mug: serf.mug() })
  }

  const work = (io: WorkerIo, wen: number, ev: unknown, trace: unknown) => {
    const ctx: PokeContext = { eve: eve + 1, wen, replaying: false, trace: typeof trace === "string" ? trace : undefined }
    try {
      const fec = effectsOf(serf.poke(ev, ctx))
      eve++
      return io.send({ t: "work-done", eve, mug: serf.mug(), fec })
    } catch (e) {
      const goof = goofOf(e)
      let replacement: unknown
      try {
        replacement = serf.swap?.(ev, goof, ctx)
      } catch (e2) {
        return io.send({ t: "work-bail", lud: [goof, goofOf(e2)] })
      }
      if (replacement !== undefined && replacement !== null) {
        try {
          const fec = effectsOf(serf.poke(replacement, ctx))
          eve++
          return io.send({ t: "work-swap", eve, mug: serf.mug(), wen, ev: replacement, fec })
        } catch (e2) {
          return io.send({ t: "work-bail", lud: [goof, goofOf(e2)] })
        }
      }
      return io.send({ t: "work-bail", lud: [goof] })
    }
  }

  const io = connect({
    onMessage: (m, io) => {
      const writ = (typeof m === "object" && m !== null ? m : { t: String(m) }) as Writ
      switch (writ.t) {
        case "work":
          return work(io, writ["wen"] as number, writ["ev"], writ["trace"])
        case "play":
          return play(io, writ["eve"] as number, writ["events"] as ReadonlyArray<{ wen: number; ev: unknown }>)
        case "peek":
          return io.send({
            t: "peek",
            dat: serf.peek(writ["path"] as ReadonlyArray<string>, {
              now: writ["now"] as number,
              gang: writ["gang"] as ReadonlyArray<string> | null
            }) ?? null
          })
        case "save":
          serf.save?.(eve, serf.mug(), pier)
          return io.send({ t: "live" })
        case "pack":
          serf.pack?.()
          return io.send({ t: "live" })
        case "exit":
          return io.exit(typeof writ["code"] === "number" ? writ["code"] : 0)
        default:
          io.slog(3, `unknown writ ${JSON.stringify(writ.t)}`)
      }
    }
  })
  io.send({ t: "ripe", pro: 1, hon: serf.hon ?? 1, nok: serf.nok ?? 1, eve, mug: serf.mug() })
  return io
}
