/**
 * The root `liege` command and the flags every subcommand accepts.
 */
import { Effect, Option } from "effect"
import { Command } from "effect/cli"
import * as Logging from "../internal/logger.ts"
import { logFormat } from "./flags.ts"

export const root = Command.make("liege").pipe(
  Command.withSharedFlags({ logFormat }),
  Command.withDescription("Supervised worker processes")
)

/** Runs a subcommand's program with the logger chosen by `--log-format`. */
export const withLogging = <A, E, R>(program: Effect.Effect<A, E, R>) =>
  Effect.flatMap(root, ({ logFormat }) =>
    Effect.provide(program, Logging.layer(Option.getOrElse(logFormat, Logging.defaultFormat))))
