/**
 * An `effect/rpc` client over a liege pool (SPEC §11, host side): the
 * `RpcClient.Protocol` whose transport is the pool's wire (SPEC §5), so an
 * RPC group runs on supervised workers with the ready handshake, timeouts,
 * recycling, restarts, cancellation and credit underneath.
 *
 * - Each RPC `Request` is one pool request, the Request message its
 *   payload: streamed (`pool.stream`) for a streaming RPC, the worker's
 *   chunks RPC `Chunk` messages; its answer the RPC `Exit`. Both are handed
 *   to the client as they are. (A unary RPC is a plain `submit` when the
 *   protocol knows the group.)
 *   A slow caller slows the worker: a chunk is taken from the pool (and
 *   credit granted) only once the client's stream buffer took the last one,
 *   so the protocol needs no RPC `Ack`s (`supportsAck: false`).
 * - An RPC `Interrupt` ends that request's stream: the pool cancels it on
 *   its worker, whose SDK interrupts the handler.
 * - A request the pool cannot answer (its worker died, timed out, the pool
 *   is busy, failed or shutting down) fails that call alone, as a defect —
 *   the group's error schemas cannot carry it — an `Error` named by the
 *   pool's error tag (`WorkerDied`, `Timeout`, `Busy`, …) with its message.
 */
import { Effect, FiberMap, type Scope, Stream } from "effect"
import { type Rpc, RpcClient, RpcSchema, RpcSerialization } from "effect/rpc"
import type { FromClientEncoded, FromServerEncoded, RequestEncoded } from "effect/rpc/RpcMessage"
import type { Pool, StreamOptions } from "../pool/pool.ts"

type RequestId = string | number

/** The call's end, as the client reads it: a `Die` whose defect is an `Error` named `name`. */
const died = (requestId: RequestId, name: string, message: string): FromServerEncoded => ({
  _tag: "Exit",
  requestId,
  exit: { _tag: "Failure", cause: [{ _tag: "Die", defect: { name, message } }] }
})

/** A worker that broke the RPC messages' shape, for the call it broke. */
interface Broken {
  readonly _tag: "Protocol"
  readonly message: string
}
const notChunk: Broken = { _tag: "Protocol", message: "the worker sent a chunk that is not this call's RPC Chunk message" }
const notExit: Broken = { _tag: "Protocol", message: "the worker answered with something other than this call's RPC Exit message" }

const isPart = (u: unknown, tag: "Chunk" | "Exit", requestId: RequestId): u is FromServerEncoded =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === tag &&
  (u as { requestId?: unknown }).requestId === requestId

/**
 * The client protocol over `pool`, for the scope's lifetime (its calls end
 * with it). `credit`: RPC chunk messages the worker may send ahead of the
 * caller (default 16); `group`: see `ProtocolOptions`.
 */
export interface ProtocolOptions extends StreamOptions {
  /**
   * The group the client calls: its RPCs that do not stream are sent as
   * plain requests (cheaper than a stream of one part). Without it, every
   * call is streamed.
   */
  readonly group?: { readonly requests: ReadonlyMap<string, unknown> } | undefined
}

export const makeProtocol = (
  pool: Pick<Pool, "stream" | "submit">,
  options: ProtocolOptions = {}
): Effect.Effect<RpcClient.Protocol["Service"], never, Scope.Scope> =>
  RpcClient.Protocol.make(Effect.fnUntraced(function*(writeResponse) {
    // every call's fiber, ended with the protocol's scope
    const calls = yield* FiberMap.make<RequestId>()
    const unaryTags = new Set<string>()
    options.group?.requests.forEach((rpc, tag) => {
      if (!RpcSchema.isStreamSchema((rpc as Rpc.AnyWithProps).successSchema)) unaryTags.add(tag)
    })
    /** A unary RPC: one request, its RPC Exit the answer. */
    const unary = (clientId: number, request: RequestEncoded) =>
      pool.submit(request).pipe(
        Effect.flatMap((answer): Effect.Effect<void, Broken> => isPart(answer, "Exit", request.id) ? writeResponse(clientId, answer) : Effect.fail(notExit)),
        Effect.catch((error) => writeResponse(clientId, died(request.id, error._tag, error.message)))
      )
    /** A streaming RPC (or one of a group not known): streamed, within the credit. */
    const streamed = (clientId: number, request: RequestEncoded) =>
      pool.stream(request, options).pipe(
        Stream.runForEach((part): Effect.Effect<void, Broken> =>
          part._tag === "Chunk"
            ? isPart(part.data, "Chunk", request.id) ? writeResponse(clientId, part.data) : Effect.fail(notChunk)
            : isPart(part.value, "Exit", request.id) ? writeResponse(clientId, part.value) : Effect.fail(notExit)
        ),
        // the call ends at its first wrong part: the stream (and the worker's part) is cancelled
        Effect.catch((error) => writeResponse(clientId, died(request.id, error._tag, error.message)))
      )
    const send = (clientId: number, message: FromClientEncoded) => {
      switch (message._tag) {
        case "Request":
          return Effect.asVoid(FiberMap.run(calls, message.id, unaryTags.has(message.tag) ? unary(clientId, message) : streamed(clientId, message)))
        case "Interrupt":
          return FiberMap.remove(calls, message.requestId)
        default:
          // no Acks (the pool's credit paces a stream), no Eof or Ping to answer
          return Effect.void
      }
    }
    return { send, supportsAck: false, supportsTransferables: false, codecFor: RpcSerialization.json.codecFor }
  }))
