/**
 * The host's end of a worker's pipes: frames out on its stdin, frames in from
 * its stdout. This is the hot path, so it is plain callbacks, no fibers:
 *
 * - every `data` chunk is decoded in bulk; each complete frame goes through
 *   the codec and `slog` messages go to the logger, never to the consumer;
 * - frames sent while a chunk is handled go out in one `writev` at its end;
 *   otherwise the first frame of a tick goes out at once and the tick's
 *   later ones are corked into one `writev`; a frame for a peer that is busy
 *   with earlier ones (`sendFrame(frame, true)`) waits for the end of this
 *   turn of the event loop, with every other one sent meanwhile — the peer
 *   would not read it sooner, and one write wakes it once;
 * - the first protocol error, end of stream or pipe error ends the link and
 *   is reported once through `onClose`; nothing is delivered after it (the
 *   stream is still drained, so the worker never blocks on a full pipe).
 */
import type { Readable, Writable } from "node:stream"
import type { LogPump } from "../internal/logpump.ts"
import { type Codec, DecodeFailure } from "./codec.ts"
import { badMessage, ConnectionClosed, FrameTooLarge, type ProtocolError } from "./errors.ts"
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameOverflow } from "./frame.ts"
import { slogLevel } from "./slog.ts"

export interface LinkOptions {
  readonly codec: Codec
  readonly maxFrameBytes?: number | undefined
  readonly log: LogPump
  /**
   * Lockstep peers (one message outstanding): a frame sent while a chunk is
   * handled goes out at once instead of at the chunk's end — the peer is
   * waiting for it, and there is nothing to batch it with.
   */
  readonly writeThrough?: boolean | undefined
}

export interface LinkHandlers {
  /** A decoded message that is not a `slog` (its shape is the consumer's to check). */
  readonly onMessage: (message: unknown) => void
  /** Called once: `undefined` for a clean end of stream, else what broke the link. */
  readonly onClose: (error: ProtocolError | undefined) => void
  /** Called after the messages of one chunk read from the pipe (a natural batch). */
  readonly onChunk?: (() => void) | undefined
  /**
   * Writing to the worker failed (EPIPE: it is going away). Given, the link
   * keeps reading what the worker still sends and nothing more is written;
   * not given, the link closes with `ConnectionClosed`.
   */
  readonly onStdinError?: ((error: ConnectionClosed) => void) | undefined
}

export interface Link {
  /**
   * Encodes and queues one message; false once the link is closed. Throws the
   * codec's `EncodeFailure` (nothing queued) for a message that cannot travel exactly.
   */
  readonly send: (message: unknown) => boolean
  /**
   * Queues one frame already encoded (header included); false once the link
   * is closed. `busy`: the peer has earlier frames to work through — this
   * one may wait for the end of the event loop's turn.
   */
  readonly sendFrame: (frame: Buffer, busy?: boolean) => boolean
  /** Ends the worker's stdin (it should exit on its own). */
  readonly end: () => void
  /** Ends the link with a protocol error found by the consumer (reported through `onClose`). */
  readonly fail: (error: ProtocolError) => void
  readonly closed: () => boolean
}

export const attach = (
  stdin: Writable,
  stdout: Readable,
  options: LinkOptions,
  handlers: LinkHandlers
): Link => {
  const { codec, log } = options
  const decoder = new FrameDecoder(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES)
  let closed = false
  let corked = false
  let inChunk = false
  const writeThrough = options.writeThrough === true

  const close = (error: ProtocolError | undefined) => {
    if (closed) return
    closed = true
    handlers.onClose(error)
  }

  const onFrame = (payload: Buffer) => {
    if (closed) return
    let message: unknown
    try {
      message = codec.decode(payload)
    } catch (e) {
      if (e instanceof DecodeFailure) return close(badMessage(e.reason, payload))
      throw e
    }
    if (typeof message !== "object" || message === null || typeof (message as { t?: unknown }).t !== "string") {
      return close(badMessage("expected an object with a string tag `t`", payload))
    }
    if ((message as { t: string }).t === "slog") {
      const { pri, msg } = message as { pri?: unknown; msg?: unknown }
      const level = slogLevel(pri)
      if (level === undefined || typeof msg !== "string") {
        return close(badMessage("slog needs pri 0..3 and a string msg", payload))
      }
      return log.line(level, msg)
    }
    handlers.onMessage(message)
  }

  stdout.on("data", (chunk: Buffer) => {
    if (closed) return
    inChunk = true
    try {
      decoder.push(chunk, onFrame)
    } catch (e) {
      if (e instanceof FrameOverflow) return close(new FrameTooLarge({ length: e.length, max: e.max }))
      throw e
    } finally {
      inChunk = false
    }
    // what the chunk's messages made us send goes out in one writev, before the consumer's batch work
    if (corked) uncork()
    handlers.onChunk?.()
  })
  stdout.on("end", () =>
    close(
      decoder.pending === 0
        ? undefined
        : new ConnectionClosed({ pending: decoder.pending, detail: "end of stream inside a frame" })
    )
  )
  stdout.on("error", (e: NodeJS.ErrnoException) =>
    close(new ConnectionClosed({ pending: decoder.pending, detail: `stdout: ${e.code ?? e.message}` }))
  )
  let stdinBroken = false
  stdin.on("error", (e: NodeJS.ErrnoException) => {
    const error = new ConnectionClosed({ pending: 0, detail: `stdin: ${e.code ?? e.message}` })
    if (handlers.onStdinError === undefined) return close(error)
    if (stdinBroken) return
    stdinBroken = true
    handlers.onStdinError(error)
  })

  const uncork = () => {
    if (!corked) return
    corked = false
    stdin.uncork()
  }

  // While a chunk from the worker is handled, frames are corked and flushed
  // at its end. Otherwise the first frame of a tick goes out at once (a lone
  // request pays no extra hop) and the tick's later ones are corked.
  let sentThisTick = false
  const newTick = () => {
    sentThisTick = false
  }
  /** Frames for a busy peer are held (corked) until the end of this turn. */
  let holding = false
  const endOfTurn = () => {
    holding = false
    uncork()
  }
  const sendFrame = (frame: Buffer, busy?: boolean) => {
    if (closed || stdinBroken || stdin.writableEnded || stdin.destroyed) return false
    if (busy === true && !inChunk) {
      if (!corked) {
        corked = true
        stdin.cork()
      }
      if (!holding) {
        holding = true
        setImmediate(endOfTurn)
      }
    } else if (!sentThisTick && (!inChunk || writeThrough)) {
      sentThisTick = true
      process.nextTick(newTick)
    } else if (!corked) {
      corked = true
      stdin.cork()
      process.nextTick(uncork)
    }
    stdin.write(frame)
    return true
  }

  return {
    send: (message) => sendFrame(codec.frame(message)),
    sendFrame,
    end: () => {
      if (!stdin.writableEnded) stdin.end()
    },
    fail: (error) => close(error),
    closed: () => closed
  }
}
