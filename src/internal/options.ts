/**
 * Decoding of option records with Schema, turning the first issue into a
 * `{ field, reason }` pair that an `InvalidOptions`-style error can carry.
 */
import { Duration, Effect, Option, Schema, SchemaIssue } from "effect"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

export interface OptionIssue {
  readonly field: string
  readonly reason: string
}

export const firstIssue = (error: Schema.SchemaError): OptionIssue => {
  const issue = formatter(error.issue).issues[0]
  return {
    field: issue?.path === undefined || issue.path.length === 0 ? "(options)" : issue.path.map(String).join("."),
    reason: issue?.message ?? error.message
  }
}

/** Decodes `input` with `schema`; on failure, `onIssue` builds the tagged error. */
export const decodeOptions = <S extends Schema.Decoder<unknown>, E>(
  schema: S,
  input: unknown,
  onIssue: (issue: OptionIssue) => E
): Effect.Effect<S["Type"], E> =>
  Schema.decodeUnknownEffect(schema)(input).pipe(Effect.mapError((error) => onIssue(firstIssue(error))))

/** Any `Duration.Input` that is finite and not negative, kept as given. */
export const DurationInput = Schema.Unknown.pipe(Schema.check(Schema.makeFilter((u: unknown) => {
  const d = Duration.fromInput(u as Duration.Input)
  if (Option.isNone(d)) return "expected a duration (milliseconds, \"5 seconds\", a Duration)"
  if (!Duration.isFinite(d.value) || Duration.isNegative(d.value)) return "expected a finite, non-negative duration"
  return undefined
})))

export const toMillis = (input: unknown): number => Duration.toMillis(Duration.fromInputUnsafe(input as Duration.Input))
