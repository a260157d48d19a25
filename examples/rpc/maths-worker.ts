/**
 * Serves `Maths` and `Greeter` (maths.ts) from a liege pool worker (SPEC
 * §11). With `MATHS_FINALIZED` set, the handlers' layer writes "finalized"
 * to that file when it is released (the host closed stdin).
 */
import * as fs from "node:fs"
import { Effect, Layer, Option, Stream } from "effect"
import { serve } from "../../src/worker/rpc.ts"
import { DivisionByZero, Greeter, Maths } from "./maths.ts"

let produced = 0

const MathsLive = Maths.toLayer({
  Add: ({ a, b }) => Effect.succeed(a + b),
  Divide: ({ a, b }) => b === 0 ? Effect.fail(new DivisionByZero({ dividend: a })) : Effect.succeed(a / b),
  Count: ({ mark, n }) =>
    Stream.range(1, n, 1).pipe(
      Stream.map((i) => (produced = i, i)),
      Stream.ensuring(Effect.sync(() => {
        if (mark !== undefined && produced < n) fs.writeFileSync(mark, "ended")
      }))
    ),
  Produced: () => Effect.sync(() => produced),
  Sleep: ({ mark, ms }) =>
    Effect.sync(() => fs.writeFileSync(mark, "started")).pipe(
      Effect.andThen(Effect.sleep(ms)),
      Effect.onInterrupt(() => Effect.sync(() => fs.writeFileSync(mark, "interrupted")))
    ),
  Span: () =>
    Effect.map(Effect.orDie(Effect.currentSpan), (span) => ({
      traceId: span.traceId,
      parentSpanId: Option.match(span.parent, { onNone: () => null, onSome: (p) => p.spanId })
    })),
  Pid: () => Effect.succeed(process.pid),
  Crash: () => Effect.sync(() => void process.kill(process.pid, "SIGKILL"))
})

const GreeterLive = Greeter.toLayer({
  Hello: ({ name }, { headers }) => Effect.succeed(`hello ${name} from ${headers["x-tenant"] ?? "nobody"}`),
  Whoami: () => Effect.succeed(process.pid)
})

const finalized = Layer.effectDiscard(Effect.addFinalizer(() =>
  Effect.sync(() => {
    const mark = process.env["MATHS_FINALIZED"]
    if (mark !== undefined) fs.writeFileSync(mark, "finalized")
  })
))

serve(Maths.merge(Greeter), Layer.mergeAll(MathsLive, GreeterLive, finalized))
