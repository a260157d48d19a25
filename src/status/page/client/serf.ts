/// <reference lib="dom" />
/**
 * The status page's client, part 4 (see page/client/index.ts): a serf's
 * document in `#serf` — its state, the replay bar (with the time left, from
 * the pace this page has seen), eve and mug, the window, events and latency,
 * group commits, the log, its restarts and recent errors.
 *
 * Runs in the browser. This function is embedded in the page as its source
 * text, so it may refer to nothing outside itself but browser globals and
 * types.
 */
import type { SerfStatus } from "../../document.ts"
import type { Dom } from "./dom.ts"
import type { Formats } from "./format.ts"

export const serfView = (f: Formats, d: Dom) => {
  const { $, txt, cls, attr, show, width } = d
  /** Where the replay stood when this page first saw it: its pace since is the time left. */
  let replayFrom: { readonly done: number; readonly total: number; readonly at: number } | null = null

  const replay = (s: SerfStatus): void => {
    const rp = s.replay
    const now = s.now
    const meter = $("s-replay-meter")
    if (rp && rp.total > 0) {
      cls($("s-replay"), "replay")
      width($("s-replay-bar"), rp.done / rp.total)
      attr(meter, "aria-valuemax", rp.total)
      attr(meter, "aria-valuenow", rp.done)
      if (!replayFrom || replayFrom.total !== rp.total || rp.done < replayFrom.done) replayFrom = { done: rp.done, total: rp.total, at: now }
      const pace = now > replayFrom.at ? (rp.done - replayFrom.done) / (now - replayFrom.at) : 0
      const left = pace > 0 ? " · about " + f.dur(Math.ceil((rp.total - rp.done) / pace / 1000) * 1000) + " left" : ""
      txt($("s-replay-text"), "Replaying: " + f.int(rp.done) + " of " + f.int(rp.total) + " events · " + Math.floor((rp.done / rp.total) * 100) + " %" + left)
    } else {
      replayFrom = null
      cls($("s-replay"), "replay idle")
      width($("s-replay-bar"), rp ? 1 : 0)
      meter.removeAttribute("aria-valuenow")
      txt($("s-replay-text"), s.state === "replaying" ? "Replaying…" : "No replay in progress.")
    }
  }

  return (s: SerfStatus): void => {
    cls($("s-pill"), d.stateClass(s.state))
    txt($("s-state"), s.state)
    const detail: Array<string> = []
    if (s.state === "restarting" && f.isNum(s.nextTryAt)) detail.push("next try in " + f.secs(s.nextTryAt - s.now))
    detail.push(s.pid === null ? "no process" : "pid " + s.pid)
    txt($("s-detail"), detail.join(" · "))
    replay(s)
    txt($("s-eve"), f.int(s.eve))
    txt($("s-mug"), f.hex(s.mug))
    txt($("w-in"), f.int(s.window.inFlight))
    txt($("w-max"), f.int(s.window.max))
    width($("w-bar"), s.window.max > 0 ? s.window.inFlight / s.window.max : 0)
    txt($("s-pending"), f.int(s.pending))
    const e = s.events
    txt($("e-10"), f.rate(e.last10s.perSec))
    txt($("e-60"), f.rate(e.last60s.perSec))
    txt($("e-count"), f.int(e.last60s.count))
    txt($("e-p50"), f.ms(e.last10s.p50Ms))
    txt($("e-p99"), f.ms(e.last10s.p99Ms))
    d.spark("e-spark", e.perSecond, "bars", (v) => f.int(v) + "/s")
    txt($("cm-mean"), f.one(s.commits.meanBatch))
    txt($("cm-max"), f.int(s.commits.maxBatch))
    txt($("cm-total"), f.int(s.commits.total))
    txt($("s-log"), f.size(s.logBytes))
    txt($("s-snap"), f.int(s.lastSnapshotEve))
    txt($("s-restarts"), f.int(s.restarts.total) + " since start")
    const xs = s.restarts.recent.slice().sort((a, b) => b.at - a.at)
    d.rows(d.$as("s-exits", HTMLTableElement), xs, ["t", "", "t"], null, ([t, reason, by], x) => {
      txt(t, f.clock(x.at))
      txt(reason, x.reason)
      attr(reason, "title", x.reason)
      txt(by, x.signal ? "signal " + x.signal : x.code === null ? "" : "exit code " + x.code)
    })
    show($("s-exits"), xs.length > 0)
    show($("s-exits-empty"), xs.length === 0)
    d.errors("s-errors", s.errors)
  }
}

export type SerfView = ReturnType<typeof serfView>
