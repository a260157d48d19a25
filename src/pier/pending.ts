/**
 * The events a pier accepted and has not answered yet (SPEC §3), in order,
 * and their way to the serf: each is submitted to the serving generation's
 * serf; the serf's answer goes to the group commit (./commit.ts), a bail to
 * its caller at once. An event sent to a serf that ended owing its answer
 * stays pending and is sent again, in order, to the next one — unless it is
 * to blame for the ends (poison isolation, ./poison.ts): then the next serf
 * gets it alone first, and the others wait. While a reload switches serfs
 * (./reload.ts) events are held: they stay pending, sent to no serf, until
 * `release` sends them, in order, to whichever serf serves then.
 */
import { type Clock, Effect, Fiber, type Tracer } from "effect"
import * as Trace from "../internal/trace.ts"
import type { Serf } from "../serf/host.ts"
import { isError } from "../serf/window.ts"
import type { GroupCommit } from "./commit.ts"
import { PierIo } from "./errors.ts"
import { Isolation, type Suspect } from "./poison.ts"
import type { PokeAnswer, PokeError } from "./types.ts"

export interface Pending extends Suspect {
  readonly ev: unknown
  /** The event as the caller's JSON text, logged as given. */
  readonly json: string | undefined
  /** The caller's key for it, logged with its effects by a log that keeps them (the cluster's). */
  readonly key: string | undefined
  readonly wen: number
  /** Its one answer (called once: later calls do nothing). */
  readonly done: (answer: PokeAnswer | PokeError) => void
  /** The generation it was last submitted to (0: none yet). */
  gen: number
  /** Cancels that submission while it stands (true: the writ was not sent yet). */
  cancel: (() => boolean) | undefined
  /** Its caller's span, when in one: its context goes with the `work` writ (a bare traceparent: only that). */
  readonly caller: Trace.Caller | string | undefined
  /** With `spans` on: the serf's work, then the log commit. */
  work: Tracer.Span | undefined
  committing: Tracer.Span | undefined
}

/** Whether the pier records spans of its own (SPEC §8 Tracing), and its clock. */
export interface Spans {
  readonly on: boolean
  readonly clock: Clock.Clock
}

/** The serf events go to now, and its generation. */
export interface Serving {
  readonly serf: Serf
  readonly gen: number
}

export class PendingEvents {
  /** Accepted, not answered yet, in order. */
  readonly pending = new Map<number, Pending>()
  readonly isolation = new Isolation<Pending>()
  private nextId = 0
  /** Events are held (a reload is switching serfs): none is sent. */
  private holding = false
  private readonly commit: GroupCommit
  private readonly dir: string
  /** Told whenever an event leaves (the drain waits for none to be left). */
  private readonly left: () => void

  private readonly spans: Spans

  constructor(commit: GroupCommit, dir: string, left: () => void, spans: Spans) {
    this.commit = commit
    this.dir = dir
    this.left = left
    this.spans = spans
  }

  get size(): number {
    return this.pending.size
  }

  /**
   * One event, from its caller: refused at once with what `refused` says,
   * else pending and — unless an event is with the serf alone — sent to the
   * serving serf. An interrupted caller's event not yet sent never will be;
   * one sent is logged, with nobody listening.
   */
  poke(
    ev: unknown,
    json: string | undefined,
    key: string | undefined,
    wen: number,
    refused: () => PokeError | undefined,
    serving: () => Serving | undefined
  ): Effect.Effect<PokeAnswer, PokeError> {
    return Effect.callback<PokeAnswer, PokeError>((resume) => {
      const fiber = Fiber.getCurrent()
      const caller = fiber === undefined ? undefined : Trace.callerOf(fiber)
      const started = this.start(ev, json, key, wen, refused, serving, caller, (answer) =>
        resume(isError(answer) ? Effect.fail(answer) : Effect.succeed(answer)))
      if (typeof started !== "function") return resume(Effect.fail(started))
      return Effect.sync(started)
    })
  }

  /**
   * `poke` without a fiber: `done` is called once with the answer, unless
   * the function returned is called first (its caller left); a refusal is
   * returned at once instead.
   */
  start(
    ev: unknown,
    json: string | undefined,
    key: string | undefined,
    wen: number,
    refused: () => PokeError | undefined,
    serving: () => Serving | undefined,
    caller: Trace.Caller | string | undefined,
    done: (answer: PokeAnswer | PokeError) => void
  ): (() => void) | PokeError {
    const refusal = refused()
    if (refusal !== undefined) return refusal
    let gone = false
    let answered = false
    const p: Pending = {
      id: this.nextId++,
      ev,
      json,
      key,
      wen,
      done: (answer) => {
        if (answered) return
        answered = true
        if (this.spans.on) this.ended(p, answer)
        if (gone) return
        gone = true
        done(answer)
      },
      gen: 0,
      cancel: undefined,
      lostIn: 0,
      caller,
      work: undefined,
      committing: undefined
    }
    this.pending.set(p.id, p)
    const now = serving()
    if (now !== undefined && !this.isolation.active && !this.holding) this.send(now, p)
    return () => {
      if (gone) return
      gone = true
      if (p.cancel === undefined || p.cancel()) {
        // never sent (or not any more): its spans end here, there will be no answer
        if (this.spans.on) this.ended(p, Trace.interrupted)
        this.pending.delete(p.id)
        this.left()
      }
    }
  }

  /** The event's spans end with its answer. */
  private ended(p: Pending, answer: PokeAnswer | PokeError | typeof Trace.interrupted): void {
    const error = answer === Trace.interrupted || isError(answer) || answer._tag === "Bail" ? answer : undefined
    if (p.work !== undefined) Trace.end(p.work, this.spans.clock, error)
    if (p.committing !== undefined) Trace.end(p.committing, this.spans.clock, error)
  }

  /** The `trace` of `p`'s writ to the serf `pid`: with `spans` on, a new work span's. */
  private traceOf(p: Pending, pid: number, gen: number): string | undefined {
    if (p.caller === undefined) return undefined
    if (typeof p.caller === "string") return p.caller
    if (!this.spans.on) return p.caller.traceparent
    // sent before, to a serf that ended owing it: that work is over
    if (p.work !== undefined) Trace.end(p.work, this.spans.clock, "the serf ended owing its answer")
    p.work = Trace.start(p.caller, "work", this.spans.clock, { "process.pid": pid, "liege.generation": gen })
    return Trace.traceparent(p.work)
  }

  /** Submits `p` to the serving serf. */
  send(to: Serving, p: Pending): void {
    const { serf, gen } = to
    p.gen = gen
    let settled = false
    const cancel = serf.submit(p.ev, p.wen, (answer) => {
      settled = true
      p.cancel = undefined
      if (isError(answer)) {
        if (answer._tag === "EventNotEncodable") {
          this.pending.delete(p.id)
          p.done(new PierIo({ dir: this.dir, reason: answer.message }))
          return this.left()
        }
        // still pending: sent again to the next serf (the serf ended owing it: a suspect)
        if (answer._tag === "SerfDied" || answer._tag === "SerfProtocolError" || answer._tag === "SerfStuck") p.lostIn = gen
        return
      }
      this.pending.delete(p.id)
      if (answer._tag === "Bail") {
        p.done(answer)
        this.left()
      } else {
        if (p.work !== undefined) {
          Trace.end(p.work, this.spans.clock)
          if (typeof p.caller === "object") p.committing = Trace.start(p.caller, "commit", this.spans.clock)
        }
        this.commit.push({ p, answer })
      }
      // the serf survived it: if it was alone, the others follow in order
      if (this.isolation.answered(p)) this.sendAll(to)
    }, p.json, this.traceOf(p, serf.pid, gen))
    if (!settled) p.cancel = cancel
  }

  /** Submits, in order, every pending event not yet submitted to this generation (none while held). */
  sendAll(to: Serving): void {
    if (this.holding) return
    for (const p of this.pending.values()) if (p.gen !== to.gen) this.send(to, p)
  }

  /** From now on no event is sent to any serf: new ones wait, pending. */
  hold(): void {
    this.holding = true
  }

  /** Events go to `to` again: every one waiting is sent, in order. */
  release(to: Serving): void {
    if (!this.holding) return
    this.holding = false
    if (!this.isolation.active) this.sendAll(to)
  }

  /** A new serf serves: the suspect of the last death goes to it alone, else every pending event. */
  resume(to: Serving): Pending | undefined {
    const alone = this.isolation.begin(this.pending)
    if (alone !== undefined) this.send(to, alone)
    else this.sendAll(to)
    return alone
  }

  /** Answers `p` (taken out of the pending events) with `error`. */
  refuse(p: Pending, error: PokeError): void {
    this.pending.delete(p.id)
    p.done(error)
    this.left()
  }

  /** Answers every pending event with `error`. */
  refuseAll(error: PokeError): void {
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const p of all) p.done(error)
    this.left()
  }
}
