/**
 * Poison events (SPEC §3): which event, if any, a serf's death is blamed on.
 *
 * - A serf that dies owing answers makes the oldest event it owed a
 *   *suspect*: the next serf gets it alone, the others wait.
 * - If that serf answers it, the isolation is over (the others follow in
 *   order). If it dies owing it, alone, the event is *poison*.
 * - A death with no event to blame (at boot, during replay, while idle, or
 *   one the host caused by giving the serf up) is the serf's own failure.
 *
 * The pier counts a restart against `maxRestarts` for a death with no event
 * to blame, and for a poison event found `again`: a second one with no event
 * answered since the first (a serf that dies on everything is broken, not
 * poisoned). Plain state, driven by the pier's callbacks.
 */

export interface Suspect {
  readonly id: number
  /** The generation whose serf ended owing this event's answer (0: none). */
  lostIn: number
}

export type Blame<P> =
  /** No event to blame. */
  | { readonly _tag: "None" }
  /** The serf died owing answers: `event`, the oldest, goes to the next serf alone. */
  | { readonly _tag: "Suspect"; readonly event: P }
  /** The serf died on `event` alone. `again`: no event was answered since the last poison event. */
  | { readonly _tag: "Poison"; readonly event: P; readonly again: boolean }

export class Isolation<P extends Suspect> {
  /** Poison events found so far. */
  poisoned = 0
  /** To be sent alone to the next serf. */
  private suspect: P | undefined = undefined
  /** With the current serf, alone. */
  private alone: P | undefined = undefined
  /** A poison event was found and no event answered since. */
  private streak = false

  /** An event is with the serf alone: the others wait. */
  get active(): boolean {
    return this.alone !== undefined
  }

  /** A serf is ripe: the event to send it alone, if there is one (and it is still pending). */
  begin(pending: ReadonlyMap<number, P>): P | undefined {
    const suspect = this.suspect
    this.suspect = undefined
    if (suspect === undefined || !pending.has(suspect.id)) return undefined
    this.alone = suspect
    return suspect
  }

  /** The serf answered `event`; true when it was the one alone (the others may follow now). */
  answered(event: P): boolean {
    this.streak = false
    if (this.alone !== event) return false
    this.alone = undefined
    return true
  }

  /** Generation `gen` ended: what its end is blamed on. */
  ended(gen: number, pending: ReadonlyMap<number, P>): Blame<P> {
    const alone = this.alone
    this.alone = undefined
    if (alone !== undefined && pending.has(alone.id)) {
      if (alone.lostIn === gen) {
        const again = this.streak
        this.streak = true
        this.poisoned++
        return { _tag: "Poison", event: alone, again }
      }
      // the serf ended without owing it (the host gave it up): it goes alone again
      this.suspect = alone
      return { _tag: "None" }
    }
    for (const p of pending.values()) {
      if (p.lostIn === gen) {
        this.suspect = p
        return { _tag: "Suspect", event: p }
      }
    }
    return { _tag: "None" }
  }
}
