/**
 * Serve an `effect/rpc` group from a liege pool worker (SPEC §11, worker
 * side), imported as `liege/worker/rpc`:
 *
 * ```ts
 * import { serve } from "liege/worker/rpc"
 * serve(Maths, Maths.toLayer({ Add: ({ a, b }) => Effect.succeed(a + b), … }))
 * ```
 *
 * The wire is SPEC §5's; the RPC messages are its payloads. Each `req`
 * carries one RPC `Request` (`payload`); each of its stream's chunks is one
 * RPC `Chunk` message (`chunk.data`), sent only within the host's credit
 * (so a slow caller slows the handler: the server waits for the SDK to take
 * a chunk before it pulls the next one); the answer (`res.ok`) is its RPC
 * `Exit` (success or typed failure alike). A `cancel` interrupts the
 * handler (an RPC `Interrupt`). The handler's spans are children of the
 * caller's: the Request carries its trace (or the `req`'s `trace`, the
 * host's exec span, when it records spans), the server propagates it.
 *
 * The worker says `ready` once the handlers' layer is built (so the host's
 * boot timeout covers it), answers pings from the SDK's wire, and when
 * stdin ends interrupts the server — running the handlers' finalizers —
 * then exits.
 */
import { Cause, Effect, type Fiber, FiberSet, Layer, Option, Queue } from "effect"
import { type Rpc, type RpcGroup, RpcSerialization, RpcServer } from "effect/rpc"
import type { FromServerEncoded, RequestEncoded, ResponseChunkEncoded, ResponseExitEncoded } from "effect/rpc/RpcMessage"
import { fromTraceparent } from "../internal/trace.ts"
import { runWorker } from "./pool.ts"

/** One RPC call in flight: the chunks the server sent, waiting for the SDK to take them, then its Exit. */
class Call {
  private readonly parts: Array<{ readonly chunk: ResponseChunkEncoded; readonly taken: () => void }> = []
  private exit_: ResponseExitEncoded | undefined
  private wake: (() => void) | undefined
  /** Chunks have nowhere to go: they are taken as they come (the server runs on to its Exit). */
  private dropping = false

  /** A chunk from the server; `taken` once the SDK has sent it (within the host's credit). */
  chunk(chunk: ResponseChunkEncoded, taken: () => void) {
    if (this.dropping) return taken()
    this.parts.push({ chunk, taken })
    this.poke()
  }

  finish(exit: ResponseExitEncoded) {
    this.exit_ ??= exit
    this.poke()
  }

  private poke() {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /** The Exit alone (a call that was not streamed: a chunk for it breaks the call). */
  async exit(): Promise<ResponseExitEncoded> {
    for (;;) {
      if (this.parts.length > 0) {
        this.dropping = true
        for (const part of this.parts.splice(0)) part.taken()
        throw new TypeError("a streaming RPC was called without a stream")
      }
      if (this.exit_ !== undefined) return this.exit_
      await new Promise<void>((wake) => (this.wake = wake))
    }
  }

  /** The chunks, in order, then the Exit as the answer. */
  async *answer(): AsyncGenerator<ResponseChunkEncoded, ResponseExitEncoded> {
    for (;;) {
      const part = this.parts.shift()
      if (part !== undefined) {
        part.taken()
        yield part.chunk
        continue
      }
      if (this.exit_ !== undefined) return this.exit_
      await new Promise<void>((wake) => (this.wake = wake))
    }
  }
}

const isRequest = (u: unknown): u is RequestEncoded =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Request" &&
  (typeof (u as { id?: unknown }).id === "number" || typeof (u as { id?: unknown }).id === "string")

/**
 * The Request as the server should run it: in the span the host says the
 * request runs in (`trace`: the exec span when the host records spans of
 * its own, else the caller's), so the handler's spans are its children.
 */
const withTrace = (request: RequestEncoded, trace: string | undefined): RequestEncoded => {
  const span = fromTraceparent(trace)
  if (span === undefined || (request.traceId === span.traceId && request.spanId === span.spanId)) return request
  return { ...request, traceId: span.traceId, spanId: span.spanId, sampled: span.sampled }
}

/** The server `Protocol` over the worker's wire; `onEnd` runs when stdin ends, before the process exits. */
const protocol = (onEnd: () => Promise<void>): Layer.Layer<RpcServer.Protocol> => Layer.effect(RpcServer.Protocol)(
  RpcServer.Protocol.make(Effect.fnUntraced(function*(writeRequest) {
    const fibers = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(fibers)<never>()
    const calls = new Map<string | number, Call>()
    const dieAll = (defect: unknown) => {
      for (const [requestId, call] of calls) {
        call.finish({ _tag: "Exit", requestId, exit: { _tag: "Failure", cause: [{ _tag: "Die", defect }] } })
      }
      calls.clear()
    }
    runWorker((given, { signal, streamed, trace }) => {
      if (!isRequest(given)) throw new TypeError("the payload is not an effect/rpc Request message")
      const payload = withTrace(given, trace)
      const id = payload.id
      const call = new Call()
      calls.set(id, call)
      // the host cancelled: the handler is interrupted, and its Exit (the interruption) ends the call
      signal.addEventListener("abort", () => run(writeRequest(0, { _tag: "Interrupt", requestId: id })), { once: true })
      run(writeRequest(0, payload))
      // a call the host did not stream (a unary RPC) has no chunks: its Exit is the answer
      return streamed ? call.answer() : call.exit()
    }, { onEnd })
    const send = (_clientId: number, response: FromServerEncoded): Effect.Effect<void> => {
      switch (response._tag) {
        case "Chunk": {
          const call = calls.get(response.requestId)
          if (call === undefined) return Effect.void
          return Effect.callback<void>((resume) => call.chunk(response, () => resume(Effect.void)))
        }
        case "Exit": {
          const call = calls.get(response.requestId)
          calls.delete(response.requestId)
          return Effect.sync(() => call?.finish(response))
        }
        case "Defect":
          return Effect.sync(() => dieAll(response.defect))
        default:
          return Effect.void
      }
    }
    return {
      disconnects: yield* Queue.make<number>(),
      send,
      end: () => Effect.void,
      clientIds: Effect.succeed(new Set([0])),
      initialMessage: Effect.succeed(Option.none()),
      supportsAck: false,
      supportsTransferables: false,
      supportsSpanPropagation: true,
      supportsNotifications: false,
      codecFor: RpcSerialization.json.codecFor
    }
  }))
)

/**
 * The server `Protocol` over the worker's wire, built with `ready` sent (the
 * process exits as soon as stdin ends). For composing a server by hand;
 * `serve` is the usual way.
 */
export const layerProtocol: Layer.Layer<RpcServer.Protocol> = protocol(() => Promise.resolve())

/**
 * Serves `group` with `handlers` in this worker until stdin ends (then the
 * server is interrupted, its finalizers run, and the process exits 0).
 * A handlers' layer that fails to build exits the process 70, saying why
 * on stderr (the host logs it and counts the failed start).
 */
export const serve = <Rpcs extends Rpc.Any, E>(
  group: RpcGroup.RpcGroup<Rpcs>,
  handlers: Layer.Layer<Rpc.ToHandler<Rpcs>, E>
): void => {
  let root: Fiber.Fiber<void> | undefined
  /** stdin ended: the server is interrupted (the handlers' finalizers run), then the process exits. */
  const onEnd = () =>
    new Promise<void>((resolve) => {
      if (root === undefined) return resolve()
      root.addObserver(() => resolve())
      root.interruptUnsafe()
    })
  const program = Effect.gen(function*() {
    // the handlers first, so that `ready` (sent as the protocol is built) means ready
    const context = yield* Layer.build(handlers)
    yield* Layer.launch(
      RpcServer.layer(group).pipe(Layer.provide(Layer.succeedContext(context)), Layer.provide(protocol(onEnd)))
    ) as Effect.Effect<never>
  }).pipe(
    Effect.scoped,
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.sync(() => {
        process.stderr.write(`worker: the RPC server failed: ${Cause.pretty(cause)}\n`)
        process.exit(70)
      }))
  )
  // Unowned on purpose: this is the worker process's root fiber (nothing above it could own it;
  // the host's root is in cli/main.ts). It owns the server's scope, and stdin's end interrupts it.
  root = Effect.runFork(program)
}
