/**
 * The worker's end of the wire: frames in on stdin, frames out on stdout,
 * codec from `LIEGE_CODEC`. Plain Node (no Effect), so a worker starts fast.
 *
 * Writes made in one tick are corked into one `writev`. When stdin ends the
 * worker exits (after `onEnd`, if given), as every liege worker must.
 *
 * Heartbeat (SPEC §1): a `{t: "ping", n}` from the host is answered
 * `{t: "pong", n}` here, as soon as its frame is read, whatever the handlers
 * are waiting for: only a worker whose event loop is blocked cannot answer,
 * and that is the stuck worker the host wants to find.
 */
import { type Codec, codec as codecOf, type CodecName, DecodeFailure } from "../wire/codec.ts"
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameOverflow } from "../wire/frame.ts"

export interface WorkerIo {
  readonly codec: Codec
  /** Sends one message (one frame). */
  readonly send: (message: unknown) => void
  /** Sends a log line to the host (`pri` 0 debug … 3 error). */
  readonly slog: (pri: 0 | 1 | 2 | 3, msg: string) => void
  /** Flushes what was sent, then exits with `code`. */
  readonly exit: (code: number) => never
}

export interface WorkerIoOptions {
  /** Called for every message from the host, in order. */
  readonly onMessage: (message: unknown, io: WorkerIo) => void
  /** Called when stdin ends, before the process exits; may return a promise. */
  readonly onEnd?: (() => void | Promise<void>) | undefined
  readonly codec?: CodecName | undefined
  readonly maxFrameBytes?: number | undefined
  /**
   * Answer the host's heartbeat pings here (default true). With false, a
   * ping reaches `onMessage` like any other message.
   */
  readonly heartbeat?: boolean | undefined
}

const fatal = (message: string): never => {
  process.stderr.write(`worker: ${message}\n`)
  process.exit(70)
}

export const envCodec = (): CodecName => {
  const name = process.env["LIEGE_CODEC"] ?? "json"
  if (name !== "json" && name !== "msgpack") return fatal(`unknown LIEGE_CODEC ${JSON.stringify(name)}`)
  return name
}

export const connect = (options: WorkerIoOptions): WorkerIo => {
  const codec = codecOf(options.codec ?? envCodec())
  const out = process.stdout
  let corked = false
  const uncork = () => {
    corked = false
    out.uncork()
  }
  const send = (message: unknown) => {
    if (!corked) {
      corked = true
      out.cork()
      process.nextTick(uncork)
    }
    out.write(codec.frame(message))
  }
  const io: WorkerIo = {
    codec,
    send,
    slog: (pri, msg) => send({ t: "slog", pri, msg }),
    exit: (code) => {
      // stdout on a pipe is synchronous: uncorked, it is written before exit
      if (corked) uncork()
      return process.exit(code)
    }
  }
  // The host went away: nothing left to do.
  out.on("error", () => process.exit(0))
  const decoder = new FrameDecoder(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES)
  const heartbeat = options.heartbeat ?? true
  const onFrame = (payload: Buffer) => {
    let message: unknown
    try {
      message = codec.decodeFromHost(payload)
    } catch (e) {
      if (e instanceof DecodeFailure) fatal(`bad frame from host: ${e.reason}`)
      throw e
    }
    if (heartbeat && typeof message === "object" && message !== null && (message as { t?: unknown }).t === "ping") {
      return send({ t: "pong", n: (message as { n?: unknown }).n ?? null })
    }
    options.onMessage(message, io)
  }
  process.stdin.on("data", (chunk: Buffer) => {
    try {
      decoder.push(chunk, onFrame)
    } catch (e) {
      if (e instanceof FrameOverflow) fatal(`frame of ${e.length} bytes from host exceeds ${e.max}`)
      throw e
    }
  })
  process.stdin.on("end", () => {
    Promise.resolve(options.onEnd?.()).then(
      () => io.exit(0),
      (e) => fatal(`onEnd failed: ${(e as Error).message}`)
    )
  })
  return io
}
