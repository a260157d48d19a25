/**
 * The serf's `play` flows (SPEC §2): `boot` (all boot events in one
 * `play`), `replay` (batches from a stream, two outstanding so the serf
 * plays one while the next is read and sent, each batch's last mug checked
 * against the log's) and `swim` (replay through `work`, collecting effects).
 * Each runs holding the serf lock (./lock.ts) and keeps its state (`eve`,
 * `mug`) with every answer.
 */
import { Deferred, Effect, Exit, Stream } from "effect"
import type { CodecName } from "../wire/codec.ts"
import { RawJson } from "../wire/codec.ts"
import { type EventNotEncodable, ReplayDiverged, type SerfError, SerfProtocolError, SwimFailed } from "./errors.ts"
import type { SerfLock } from "./lock.ts"
import type { Event, Goof, Plea } from "./protocol.ts"
import { isError } from "./window.ts"

export type PlayResult =
  | { readonly _tag: "Done"; readonly eve: number; readonly mug: number }
  | { readonly _tag: "Bail"; readonly eve: number; readonly mug: number; readonly goof: Goof }

/**
 * One event to replay; with `mug`, the serf's mug after it is checked when it
 * ends a batch. `json`, when given, is the event as JSON text (then `ev` is not
 * read): with the json codec it goes into the `play` frame as it is.
 */
export interface OneEvent {
  readonly wen: number
  readonly ev?: unknown
  readonly json?: string | undefined
  readonly mug?: number | undefined
}

/**
 * Logged events already written as the JSON text of a `play`'s `events`
 * list: `json` is what goes between its brackets (`playEventsJson`), `count`
 * the events, `mug` the mug logged after the last (checked when given). A
 * log hands a replay its events so (../pier/catch-up.ts): no object per
 * event, nothing parsed. It is played as one `play`, so it holds at most
 * `batchSize` events.
 */
export class ReplayBatch {
  readonly count: number
  readonly json: string
  readonly mug: number | undefined
  constructor(count: number, json: string, mug: number | undefined) {
    this.count = count
    this.json = json
    this.mug = mug
  }
}

/** What a replay plays: events one by one (played in batches of `batchSize`), or batches already made. */
export type ReplayEvent = OneEvent | ReplayBatch

/** A number as `JSON.stringify` writes it (for a number, that is `String` when finite, else null). */
const jsonNumber = (n: number): string => Number.isFinite(n) ? String(n) : "null"

/**
 * The `json` of a `ReplayBatch` of these rows: for each, `{"wen":…,"ev":…}`
 * with its `wen` as `JSON.stringify` writes it and its `ev` as given, joined
 * by commas. Joined in one go: a batch waits in the read-ahead for its turn,
 * and a string built piece by piece would wait as thousands of pieces (which
 * the young generation copies).
 */
export const playEventsJson = <R>(rows: ReadonlyArray<R>, wen: (row: R) => number, ev: (row: R) => string): string => {
  if (rows.length === 0) return ""
  const parts = new Array<string>(rows.length * 4 + 1)
  let k = 0
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    parts[k++] = i === 0 ? `{"wen":` : `},{"wen":`
    parts[k++] = jsonNumber(wen(row))
    parts[k++] = `,"ev":`
    parts[k++] = ev(row)
  }
  parts[k] = "}"
  return parts.join("")
}

/**
 * `play` batches a replay keeps outstanding, so that the serf plays one while
 * the host reads and sends the next ones.
 */
const PLAYS_IN_FLIGHT = 2

export interface ReplayProgress {
  readonly eve: number
  readonly events: number
}

export interface SwimEffect {
  readonly eve: number
  readonly mug: number
  readonly effects: ReadonlyArray<unknown>
}

/** What the flows need of their serf handle. */
export interface PlayContext {
  readonly lock: SerfLock
  readonly pid: number
  readonly codecName: CodecName
  readonly batchSize: number
  /** The frame for a writ, or why it cannot be encoded. */
  readonly frameOf: (writ: unknown) => Buffer | EventNotEncodable
  /** Sends writ `t` and waits for its plea (the lock is held). */
  readonly ask: (t: string, writ: unknown) => Effect.Effect<Plea, SerfError>
  /** Runs a flow holding the lock; a failure or an interruption inside kills the serf. */
  readonly withLock: <A, E>(flow: Effect.Effect<A, E>) => Effect.Effect<A, E | SerfError>
}

const unexpected = (pid: number, plea: Plea, wanted: string) =>
  new SerfProtocolError({ pid, reason: `expected ${wanted}, got ${plea.t}` })

export const playFlows = (ctx: PlayContext) => {
  const { lock: d, pid, codecName, batchSize, frameOf, ask, withLock } = ctx
/** The `play` writ for these events; JSON text given with an event is spliced in, not parsed. */
const playWrit = (eve: number, events: ReadonlyArray<OneEvent>): unknown => {
  if (codecName !== "json") {
    return {
      t: "play",
      eve,
      events: events.map((e) => ({ wen: e.wen, ev: e.json === undefined ? e.ev : JSON.parse(e.json) }))
    }
  }
  let text = `{"t":"play","eve":${eve},"events":[`
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    if (i > 0) text += ","
    text += `{"wen":${JSON.stringify(e.wen)},"ev":${e.json ?? JSON.stringify(e.ev) ?? "null"}}`
  }
  return new RawJson(text + "]}")
}

/** The `play` writ for a batch made already: its JSON goes into the frame as it is (another codec reads it). */
const batchWrit = (eve: number, batch: ReplayBatch): unknown =>
  codecName === "json"
    ? new RawJson(`{"t":"play","eve":${eve},"events":[${batch.json}]}`)
    : { t: "play", eve, events: JSON.parse(`[${batch.json}]`) }

/** Sends a writ now; the effect waits for its plea. */
const send = (writ: unknown) =>
  Effect.suspend(() => {
    const frame = frameOf(writ)
    if (!Buffer.isBuffer(frame)) return Effect.fail(frame)
    const answer = Deferred.makeUnsafe<Plea, SerfError>()
    d.ask("play", frame, (plea) => Deferred.doneUnsafe(answer, isError(plea) ? Effect.fail(plea) : Effect.succeed(plea)))
    return Effect.succeed(Deferred.await(answer))
  })

/** Applies the answer to a `play` of `size` events to the lock state. */
const played = (plea: Plea, size: number): Effect.Effect<PlayResult, SerfError> => {
  if (plea.t === "play-done") {
    d.played(size, plea.mug)
    return Effect.succeed({ _tag: "Done", eve: d.eve, mug: d.mug })
  }
  if (plea.t === "play-bail") {
    d.playBailed(plea.eve, plea.mug)
    return Effect.succeed({ _tag: "Bail", eve: plea.eve, mug: plea.mug, goof: plea.dud })
  }
  return Effect.fail(unexpected(pid, plea, "play-done or play-bail"))
}

const play = (events: ReadonlyArray<OneEvent>) =>
  Effect.flatMap(ask("play", playWrit(d.eve + 1, events)), (plea) => played(plea, events.length))

const boot = (events: ReadonlyArray<Event>) =>
  withLock(Effect.suspend(() => {
    if (events.length === 0) return Effect.succeed<PlayResult>({ _tag: "Done", eve: d.eve, mug: d.mug })
    return play(events)
  }))

/** One `play` to send: `size` events, the mug logged after the last (checked when given), its writ from its first event number. */
interface Play {
  readonly size: number
  readonly logged: number | undefined
  readonly writ: (eve: number) => unknown
}

const onesPlay = (events: ReadonlyArray<OneEvent>): Play => ({
  size: events.length,
  logged: events[events.length - 1]!.mug,
  writ: (eve) => playWrit(eve, events)
})

const batchPlay = (batch: ReplayBatch): Play => ({ size: batch.count, logged: batch.mug, writ: (eve) => batchWrit(eve, batch) })

class Bailed {
  readonly result: PlayResult
  constructor(result: PlayResult) {
    this.result = result
  }
}

/**
 * Replay keeps `PLAYS_IN_FLIGHT` `play` batches outstanding, so that the serf
 * plays one while the host reads and sends the next (a serf checks each
 * play's first event number, so after a bail the next batches are refused
 * too). Events one by one are played in batches of `batchSize`; a
 * `ReplayBatch` is played as it is.
 */
const replay = <E>(events: Stream.Stream<ReplayEvent, E>, onProgress?: (p: ReplayProgress) => void) =>
  withLock(Effect.gen(function*() {
    let done = 0
    let next = d.eve + 1
    let bail: PlayResult | undefined = undefined
    const outstanding: Array<{ readonly size: number; readonly logged: number | undefined; readonly answer: Effect.Effect<Plea, SerfError> }> = []
    const settle = Effect.gen(function*() {
      const batch = outstanding.shift()!
      const plea = yield* batch.answer
      if (bail !== undefined) {
        // sent before the serf refused the batch ahead: it must be refused too
        if (plea.t === "play-bail") return
        return yield* new SerfProtocolError({ pid, reason: `played a batch after a play-bail` })
      }
      const result = yield* played(plea, batch.size)
      if (result._tag === "Bail") {
        bail = result
        return
      }
      if (batch.logged !== undefined && batch.logged !== result.mug) {
        return yield* new ReplayDiverged({ eve: result.eve, logged: batch.logged, serf: result.mug })
      }
      done += batch.size
      onProgress?.({ eve: result.eve, events: done })
    })
    /** Sends `play` (its writ made now, from `next`), once fewer than `PLAYS_IN_FLIGHT` are outstanding. */
    const sendPlay = (play: Play) =>
      Effect.gen(function*() {
        if (play.size > batchSize) {
          return yield* Effect.die(new RangeError(`a replay batch of ${play.size} events, above batchSize ${batchSize}`))
        }
        if (outstanding.length >= PLAYS_IN_FLIGHT) yield* settle
        if (bail !== undefined) return yield* Effect.fail(new Bailed(bail))
        const answer = yield* send(play.writ(next))
        next += play.size
        outstanding.push({ size: play.size, logged: play.logged, answer })
      })
    const exit = yield* Effect.exit(events.pipe(
      // events one by one make batches of `batchSize` (a ReplayBatch is one already), before the read-ahead
      Stream.mapAccumArray((): Array<OneEvent> => [], (ones, chunk) => {
        const plays: Array<Play> = []
        for (const item of chunk) {
          if (item instanceof ReplayBatch) {
            if (ones.length > 0) {
              plays.push(onesPlay(ones))
              ones = []
            }
            if (item.count > 0) plays.push(batchPlay(item))
          } else {
            ones.push(item)
            if (ones.length === batchSize) {
              plays.push(onesPlay(ones))
              ones = []
            }
          }
        }
        return [ones, plays] as const
      }, { onHalt: (ones) => ones.length > 0 ? [onesPlay(ones)] : [] }),
      // the next batches are read (from the log, say) while the serf plays
      Stream.bufferArray({ capacity: 2 }),
      Stream.runForEachArray((plays) => Effect.forEach(plays, sendPlay, { discard: true }))
    ))
    if (Exit.isFailure(exit)) {
      const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
      if (failure === undefined || !(failure.error instanceof Bailed)) {
        return yield* (exit as Exit.Exit<never, E | SerfError | ReplayDiverged>)
      }
    }
    while (outstanding.length > 0) yield* settle
    return bail ?? ({ _tag: "Done", eve: d.eve, mug: d.mug } as PlayResult)
  }))

const swim = <E>(events: Stream.Stream<Event, E>) =>
  withLock(Effect.gen(function*() {
    const out: Array<SwimEffect> = []
    yield* Stream.runForEach(events, (e) =>
      Effect.flatMap(ask("work", { t: "work", wen: e.wen, ev: e.ev }), (plea): Effect.Effect<void, SerfError | SwimFailed> => {
        if (plea.t === "work-done") {
          const broken = d.did(plea)
          if (broken !== undefined) return Effect.fail(new SerfProtocolError({ pid, reason: broken }))
          out.push({ eve: plea.eve, mug: plea.mug, effects: plea.fec })
          return Effect.void
        }
        if (plea.t === "work-bail" || plea.t === "work-swap") {
          return Effect.fail(new SwimFailed({ eve: d.eve + 1, reason: `the serf answered ${plea.t}` }))
        }
        return Effect.fail(unexpected(pid, plea, "a work answer"))
      }))
    return out as ReadonlyArray<SwimEffect>
  }))


  return { boot, replay, swim }
}
