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

const isDurationInput = (u: unknown): u is Duration.Input => Option.isSome(Duration.fromInput(u as Duration.Input))

/** Any `Duration.Input` that is finite and not negative, kept as given. */
export const DurationInput = Schema.declare(isDurationInput, {
  expected: "a duration (milliseconds, \"5 seconds\", a Duration)"
}).pipe(Schema.check(Schema.makeFilter((input: Duration.Input) => {
  const d = Duration.fromInputUnsafe(input)
  return !Duration.isFinite(d) || Duration.isNegative(d) ? "expected a finite, non-negative duration" : undefined
})))

export const toMillis = (input: Duration.Input): number => Duration.toMillis(Duration.fromInputUnsafe(input))
