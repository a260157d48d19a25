/// <reference lib="dom" />
/**
 * The status page's client, part 3 (see page/client/index.ts): a pool's
 * document (kind pool, or the pool of a pool runner) in `#pool` — a row per
 * worker slot (its generation, and the worker booting to replace it), the
 * pool's size (an elastic pool's bounds and decisions) and its reloads, the
 * queue, requests and latency, restarts and recycles by reason, the session
 * jobs and the recent errors.
 *
 * Runs in the browser. This function is embedded in the page as its source
 * text, so it may refer to nothing outside itself but browser globals and
 * types.
 */
import type { PoolStatus, SlotExit, SlotState } from "../../document.ts"
import type { Cells, Dom } from "./dom.ts"
import type { Formats } from "./format.ts"

export const poolView = (f: Formats, d: Dom) => {
  const { $, $as, find, txt, cls, attr, show, width } = d
  /** The states a slot can be in, in the order the summary counts them. */
  const states: Record<SlotState, true> = { ready: true, busy: true, booting: true, retiring: true, restarting: true }
  const classes = ["", "", "", "n", "", "n", "n", "n", "n", ""] as const
  const ago = (now: number, at: number): string => f.dur(now - at) + " ago"
  /** A line of segments (#id's spans after its label); its title, the whole line. */
  const line = (id: string, parts: ReadonlyArray<readonly [string, string]>): void => {
    const texts: Array<string> = []
    for (const [part, t] of parts) {
      txt($(part), t)
      if (t) texts.push(t)
    }
    attr($(id), "title", texts.join(" · "))
  }

  /** An elastic pool's decisions (SPEC §5 Sizing): how often it grew and shrank, the last and why. */
  const size = (s: PoolStatus): void => {
    const z = s.size
    show($("p-size"), z.min !== z.max)
    if (z.min === z.max) return
    const l = z.last
    line("p-size", [
      ["sz-moves", "grew " + f.int(z.up) + " · shrank " + f.int(z.down)],
      ["sz-last", l ? "last " + (l.change === "up" ? "grew" : "shrank") + " to " + f.int(l.workers) + " · " + ago(s.now, l.at) + " · " + l.reason : "no change yet"]
    ])
  }

  /** Reloads (SPEC §5 Reload): the generation or the reload under way, how many, the last one's outcome. */
  const reload = (s: PoolStatus): void => {
    const r = s.reload
    const run = r.running
    const l = r.last
    cls($("rl-now"), run ? "on" : "")
    line("p-reload", [
      ["rl-now", run ? "reloading → g" + run.generation + " (" + f.int(run.replaced) + " replaced) · for " + f.dur(s.now - run.since) : "generation g" + r.generation],
      ["rl-total", r.total > 0 ? f.int(r.total) + (r.total === 1 ? " reload" : " reloads") + (r.failed > 0 ? ", " + f.int(r.failed) + " failed" : "") : ""],
      ["rl-last", l ? "last → g" + l.generation + " " + (l.error === null ? "ok" : "failed") + " (" + f.int(l.replaced) + " replaced) · " + ago(s.now, l.at) : run ? "" : "no reload yet"],
      ["rl-err", l && l.error !== null ? l.error : ""]
    ])
  }

  /** Restarts or recycles (`#id-reasons`) by reason, the most first. */
  const reasons = (id: "rs" | "rc", by: PoolStatus["restarts"]["byReason"]): void => {
    const list = Object.entries(by)
    list.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    d.rows($as(id + "-reasons", HTMLTableElement), list, ["reason", "n"], null, ([reason, n], [k, v]) => {
      txt(reason, k)
      attr(reason, "title", k)
      txt(n, f.int(v))
    })
    show($(id + "-empty"), list.length === 0)
  }

  return (s: PoolStatus): void => {
    const now = s.now
    const ws = s.workers.slice().sort((a, b) => a.slot - b.slot)
    let inFlight = 0
    const counts: Partial<Record<SlotState, number>> = {}
    const slotRow = ([, , , , state]: Cells<typeof classes>) => {
      d.pill(state)
      d.el("span", "detail", state)
    }
    d.rows($as("slots", HTMLTableElement), ws, classes, slotRow, ([slot, worker, gen, pid, state, busy, served, rss, age, exit], w, tr) => {
      inFlight += w.inFlight
      counts[w.state] = (counts[w.state] ?? 0) + 1
      attr(tr, "data-slot", w.slot)
      attr(tr, "data-state", w.state)
      txt(slot, f.int(w.slot))
      txt(worker, w.worker === null ? "—" : "#" + f.int(w.worker))
      txt(gen, w.generation === null ? "—" : "g" + w.generation)
      txt(pid, w.pid === null ? "—" : w.pid)
      d.setPill(find(state, ".pill"), w.state)
      const next = w.successor
      const detail: Array<string> = []
      if (w.state === "restarting" && f.isNum(w.nextTryAt)) detail.push("next try in " + f.secs(w.nextTryAt - now))
      if (next) detail.push("→ " + (next.pid === null ? "" : "pid " + next.pid + " · ") + "g" + next.generation + " · " + next.why)
      txt(find(state, ".detail"), detail.join(" · "))
      attr(state, "title", next ? "replaced by " + (next.pid === null ? "a worker" : "pid " + next.pid) + " of generation " + next.generation + " once it is ready (" + next.why + ")" : "")
      txt(busy, f.int(w.inFlight))
      txt(served, f.int(w.served))
      txt(rss, f.mb(w.rssBytes))
      txt(age, w.startedAt === null ? "—" : f.dur(now - w.startedAt))
      const x = w.lastExit
      txt(exit, x ? x.reason + " · " + f.dur(now - x.at) + " ago" : "—")
      attr(exit, "title", x ? x.reason + (x.code !== null ? ", exit code " + x.code : "") + (x.signal ? ", signal " + x.signal : "") + ", at " + f.clock(x.at) : "")
      cls(exit, x ? "reason" : "")
    })
    show($("slots-empty"), ws.length === 0)
    const n = s.size.running
    txt($("p-workers"), n + (n === 1 ? " worker" : " workers") + (s.size.min !== s.size.max ? " of " + s.size.min + ".." + s.size.max : "") + d.summarize(counts, states))
    size(s)
    reload(s)
    txt($("p-inflight"), f.int(inFlight))

    const q = s.queue
    txt($("q-depth"), f.int(q.depth))
    txt($("q-max"), f.int(q.max))
    width($("q-bar"), q.max > 0 ? q.depth / q.max : 0)
    cls($("q-meter"), "meter" + (q.max > 0 && q.depth / q.max >= 0.8 ? " hot" : ""))

    const r = s.requests
    txt($("r-10"), f.rate(r.last10s.perSec))
    txt($("r-60"), f.rate(r.last60s.perSec))
    txt($("r-count"), f.int(r.last60s.count))
    d.spark("r-spark", r.perSecond, "bars", (v) => f.int(v) + "/s")
    d.spark("l-spark", r.p50PerSecond, "line", (v) => "p50 " + f.ms(v))
    txt($("l-50-10"), f.ms(r.last10s.p50Ms))
    txt($("l-99-10"), f.ms(r.last10s.p99Ms))
    txt($("l-50-60"), f.ms(r.last60s.p50Ms))
    txt($("l-99-60"), f.ms(r.last60s.p99Ms))

    txt($("rs-total"), f.int(s.restarts.total))
    txt($("rc-total"), f.int(s.recycles.total))
    let last: SlotExit | null = null
    for (const w of ws) if (w.lastExit && (!last || w.lastExit.at > last.at)) last = w.lastExit
    txt($("rs-last"), last ? "last: " + last.reason + " · " + f.dur(now - last.at) + " ago" : "no worker has exited")
    reasons("rs", s.restarts.byReason)
    reasons("rc", s.recycles.byReason)

    const j = s.sessions
    show($("sessions"), !!j)
    show($("sessions-none"), !j)
    if (j) {
      txt($("j-queued"), f.int(j.byState.queued))
      txt($("j-running"), f.int(j.byState.running))
      txt($("j-done"), f.int(j.byState.done))
      txt($("j-failed"), f.int(j.byState.failed))
      d.rows($as("busiest", HTMLTableElement), j.busiest.slice(0, 10), ["", "n", "n"], null, ([session, queued, running], b) => {
        txt(session, b.session)
        attr(session, "title", b.session)
        txt(queued, f.int(b.queued))
        txt(running, f.int(b.running))
      })
    }
    d.errors("p-errors", s.errors)
  }
}

export type PoolView = ReturnType<typeof poolView>
