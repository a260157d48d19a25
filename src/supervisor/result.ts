/**
 * The one result a supervisor publishes for its child (SPEC §4).
 *
 * - `Clean`: the child exited and the supervisor had sent it no signal
 *   (whatever the code, and also when it died of a signal sent by someone else);
 * - `Escalated`: SIGTERM or SIGKILL was sent, and an exit was observed or
 *   SIGKILL was sent;
 * - `Indeterminate`: neither (no exit seen, SIGKILL could not be sent).
 */
import { Schema } from "effect"
import { constants } from "node:os"

export const Termination = Schema.Literals(["Clean", "Escalated", "Indeterminate"])
export type Termination = typeof Termination.Type

export const SentSignal = Schema.Literals(["SIGTERM", "SIGKILL"])
export type SentSignal = typeof SentSignal.Type

export class Result extends Schema.Class<Result>("liege/supervisor/Result")({
  termination: Termination,
  /** Exit code, when the child exited with one. */
  code: Schema.NullOr(Schema.Int),
  /** Name of the signal that ended the child (e.g. "SIGKILL"), when one did. */
  signal: Schema.NullOr(Schema.String),
  /** The strongest signal the supervisor sent before the child's exit, if any. */
  sent: Schema.NullOr(SentSignal),
  pid: Schema.Int,
  /** The child's lifetime in milliseconds (spawn to exit, or to the end of the escalation). */
  ms: Schema.Number,
  /** A fault inside the supervisor itself (a signal it could not send, …). */
  defect: Schema.NullOr(Schema.String)
}) {
  /** `128 + n` for a signal, the code otherwise: what a shell would report. */
  get exitStatus(): number {
    if (this.code !== null) return this.code
    if (this.signal !== null) return 128 + (signalNumber(this.signal) ?? 0)
    return 1
  }

  /** How it ended, for a log line: `signal SIGKILL` or `code 70`. */
  get how(): string {
    return this.signal !== null ? `signal ${this.signal}` : `code ${this.code}`
  }

  /** The `--report json` line of `liege run` (SPEC §8). */
  toReport(): { termination: Termination; code: number | null; signal: string | null; pid: number; ms: number } {
    return { termination: this.termination, code: this.code, signal: this.signal, pid: this.pid, ms: this.ms }
  }
}

export const signalNumber = (name: string): number | undefined =>
  (constants.signals as Record<string, number | undefined>)[name]
