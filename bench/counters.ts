/**
 * The hot-path counters (one view per component, src/status/counters.ts):
 * what a pool does per answer — count the outcome, observe the latency —
 * with liege's own plain counters, and with Effect's `Metric` updated the
 * unsafe way (a counter by outcome and a histogram), in the same run.
 */
import { Context, Metric } from "effect"
import { Histogram } from "../src/status/counters.ts"

const N = 2_000_000
const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const OUTCOMES = ["ok", "ok", "ok", "Timeout", "ok", "Application", "ok", "ok"]

const median = (run: () => void) => {
  run()
  const rounds: Array<number> = []
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now()
    run()
    rounds.push(performance.now() - t0)
  }
  return rounds.sort((a, b) => a - b)[2]!
}

export const answerCounters = () => {
  const answers = new Map<string, number>()
  const latency = new Histogram(BOUNDS)
  const own = median(() => {
    for (let i = 0; i < N; i++) {
      const outcome = OUTCOMES[i & 7]!
      answers.set(outcome, (answers.get(outcome) ?? 0) + 1)
      latency.observe((i & 1023) / 1000)
    }
  })
  const context = Context.empty() as Context.Context<never>
  const byOutcome = Object.fromEntries(OUTCOMES.map((o) => [o, Metric.counter("bench_answers_total", { attributes: { outcome: o } })]))
  const histogram = Metric.histogram("bench_request_seconds", { boundaries: BOUNDS })
  const effect = median(() => {
    for (let i = 0; i < N; i++) {
      byOutcome[OUTCOMES[i & 7]!]!.updateUnsafe(1, context)
      histogram.updateUnsafe((i & 1023) / 1000, context)
    }
  })
  return {
    bench: "counters",
    case: "per answer: outcome counter + latency histogram",
    answers: N,
    ownNsPerAnswer: Number(((own * 1e6) / N).toFixed(1)),
    effectMetricNsPerAnswer: Number(((effect * 1e6) / N).toFixed(1)),
    ratio: Number((effect / own).toFixed(2))
  }
}

export const benches = [answerCounters]
