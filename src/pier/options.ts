/**
 * A pier's options (SPEC §3): the serf's (../serf/options.ts), its folder,
 * its boot events and its restart intensity, and the settings they come to
 * once every default (../defaults.ts) is applied.
 */
import { Schema } from "effect"
import { serfDefaults } from "../defaults.ts"
import { DurationInput, toMillis } from "../internal/options.ts"
import { type SerfSettings, SerfProcessFields, settings as serfSettings } from "../serf/options.ts"
import { Event } from "../serf/protocol.ts"

export const PierOptions = Schema.Struct({
  /** The pier folder (created if missing). */
  dir: Schema.String.check(Schema.isMinLength(1)),
  ...SerfProcessFields,
  /** Boot events for a fresh pier, sent as one `play`. */
  boot: Schema.optional(Schema.Array(Event)),
  /** Serf deaths tolerated within `restartWindow`. */
  maxRestarts: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  restartWindow: Schema.optional(DurationInput)
})
export type PierOptions = typeof PierOptions.Type

export interface PierSettings extends SerfSettings {
  readonly dir: string
  readonly maxRestarts: number
  readonly windowMs: number
}

export const settings = (o: PierOptions): PierSettings => ({
  ...serfSettings(o),
  dir: o.dir,
  maxRestarts: o.maxRestarts ?? serfDefaults.maxRestarts,
  windowMs: o.restartWindow === undefined ? serfDefaults.restartWindowMs : toMillis(o.restartWindow)
})
