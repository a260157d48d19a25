/**
 * An `effect/rpc` group served by a liege pool (SPEC §11): the host makes
 * its client with `RpcPool.Client`, `maths-worker.ts` serves it with
 * `liege/worker/rpc`. Used by `test/rpc/rpc.test.ts`.
 */
import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"

export class DivisionByZero extends Schema.TaggedError<DivisionByZero>()("DivisionByZero", {
  dividend: Schema.Number
}) {}

export class Maths extends RpcGroup.make(
  Rpc.make("Add", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number }),
  Rpc.make("Divide", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number, error: DivisionByZero }),
  /**
   * 1 … n, one value per chunk; the worker counts what it produced
   * (`Produced`). With `mark`, a stream ended before n writes "ended" there.
   */
  Rpc.make("Count", { payload: { n: Schema.Number, mark: Schema.optional(Schema.String) }, success: Schema.Number, stream: true }),
  /** How many values `Count` produced in this worker so far. */
  Rpc.make("Produced", { success: Schema.Number }),
  /** Writes "started" to the file `mark`, waits `ms`; interrupted, it writes "interrupted" there. */
  Rpc.make("Sleep", { payload: { ms: Schema.Number, mark: Schema.String }, success: Schema.Void }),
  /** The handler's span: its trace and its parent's span id. */
  Rpc.make("Span", { success: Schema.Struct({ traceId: Schema.String, parentSpanId: Schema.NullOr(Schema.String) }) }),
  /** The worker's pid. */
  Rpc.make("Pid", { success: Schema.Number }),
  /** The worker is killed (SIGKILL) at once. */
  Rpc.make("Crash", { success: Schema.Void })
) {}

/** A second group, on a pool of its own. */
export class Greeter extends RpcGroup.make(
  /** "hello <name>" and the caller's `x-tenant` header. */
  Rpc.make("Hello", { payload: { name: Schema.String }, success: Schema.String }),
  /** The worker's pid. */
  Rpc.make("Whoami", { success: Schema.Number })
) {}
