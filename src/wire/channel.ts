/**
 * A typed duplex channel over a supervised process (SPEC §1): `send` writes
 * one message as one frame on the child's stdin; `messages` is the Stream of
 * decoded, Schema-checked messages from its stdout. `slog` messages go to the
 * logger and never appear in the stream. The stream fails with the first
 * protocol error and ends when the child closes its stdout.
 *
 * The child must be spawned with `stdin: "pipe"` and `stdout: "pipe"`.
 * Incoming messages are buffered up to `bufferSize`; past that the child's
 * stdout is paused until the consumer catches up (backpressure, not loss).
 * The channel owns a `FiberSet` for its scope: the one fiber a pause needs
 * (offering what overflowed) runs there, in the context `open` was called in.
 */
import { Cause, Effect, Exit, FiberSet, Queue, Schema, type Scope, Stream } from "effect"
import type { Child } from "../supervisor/child.ts"
import { type CodecName, codec as codecOf, EncodeFailure } from "./codec.ts"
import { badMessage, ConnectionClosed, NotEncodable, type ProtocolError } from "./errors.ts"
import { attach } from "./link.ts"

export interface ChannelOptions<In, Out> {
  /** Messages the child sends (a Schema over the decoded value). */
  readonly incoming: Schema.Codec<In, unknown>
  /** Messages we send; encoded with this Schema before the codec (default: as given). */
  readonly outgoing?: Schema.Codec<Out, unknown> | undefined
  readonly codec?: CodecName | undefined
  readonly maxFrameBytes?: number | undefined
  readonly bufferSize?: number | undefined
}

export interface Channel<In, Out> {
  /** Fails with `NotEncodable` (nothing sent) for a message that cannot travel exactly. */
  readonly send: (message: Out) => Effect.Effect<void, ConnectionClosed | NotEncodable>
  readonly messages: Stream.Stream<In, ProtocolError>
  /** Closes the child's stdin. */
  readonly end: Effect.Effect<void>
}

export const open = <In, Out>(
  child: Child,
  options: ChannelOptions<In, Out>
): Effect.Effect<Channel<In, Out>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { stdin, stdout } = child
    if (stdin === undefined || stdout === undefined) {
      return yield* Effect.die(new Error("wire channel: spawn the child with stdin and stdout \"pipe\""))
    }
    const codec = codecOf(options.codec ?? "json")
    const decodeIncoming = Schema.decodeUnknownExit(options.incoming)
    const encodeOutgoing = options.outgoing === undefined ? undefined : Schema.encodeUnknownSync(options.outgoing)
    const run = yield* FiberSet.makeRuntime()
    const queue = yield* Queue.make<In, ProtocolError | Cause.Done>({ capacity: options.bufferSize ?? 1024 })
    let overflow: Array<In> = []
    let paused = false

    let closing: (() => void) | undefined = undefined
    const flushOverflow = () => {
      const items = overflow
      overflow = []
      run(Queue.offerAll(queue, items)).addObserver(() => {
        if (overflow.length > 0) return flushOverflow()
        paused = false
        if (closing !== undefined) return closing()
        stdout.resume()
      })
    }

    const link = attach(stdin, stdout, { codec, maxFrameBytes: options.maxFrameBytes, log: child.log }, {
      onMessage: (value) => {
        const decoded = decodeIncoming(value)
        if (Exit.isFailure(decoded)) {
          const error = Cause.findErrorOption(decoded.cause)
          const reason = error._tag === "Some" ? error.value.message : "does not match the message schema"
          return link.fail(badMessage(reason, codec.frame(value).subarray(8)))
        }
        if (!paused && Queue.offerUnsafe(queue, decoded.value)) return
        overflow.push(decoded.value)
        if (!paused) {
          paused = true
          stdout.pause()
          flushOverflow()
        }
      },
      onClose: (error) => {
        const finish = () => {
          if (error === undefined) Queue.endUnsafe(queue)
          else Queue.failCauseUnsafe(queue, Cause.fail(error))
        }
        if (!paused) return finish()
        // the flush in progress delivers what overflowed; the end comes after it
        closing = finish
      }
    })

    const send = (message: Out) =>
      Effect.suspend((): Effect.Effect<void, ConnectionClosed | NotEncodable> => {
        const wire = encodeOutgoing === undefined ? message : encodeOutgoing(message)
        let sent: boolean
        try {
          sent = link.send(wire)
        } catch (e) {
          if (e instanceof EncodeFailure) return Effect.fail(new NotEncodable({ reason: e.message }))
          throw e
        }
        if (!sent) {
          return Effect.fail(new ConnectionClosed({ pending: 0, detail: "the child's stdin is closed" }))
        }
        if (!stdin.writableNeedDrain) return Effect.void
        return Effect.callback<void>((resume) => {
          const done = () => {
            stdin.off("drain", done)
            stdin.off("close", done)
            resume(Effect.void)
          }
          stdin.on("drain", done)
          stdin.on("close", done)
          return Effect.sync(() => {
            stdin.off("drain", done)
            stdin.off("close", done)
          })
        })
      })

    return {
      send,
      messages: Stream.fromQueue(queue),
      end: Effect.sync(() => link.end())
    }
  })
