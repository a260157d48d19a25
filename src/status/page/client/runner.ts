/// <reference lib="dom" />
/**
 * The status page's client, part 5 (see page/client/index.ts): a cluster
 * runner's document in `#runner` — its address, role, shards and forwarded
 * requests; for a serf runner a row per serf (keyed by id, sorted by id with
 * numbers by value, a row staying the same element while its serf stays);
 * for a pool runner its pool (in `#pool`) and the sessions it owns.
 *
 * Runs in the browser. This function is embedded in the page as its source
 * text, so it may refer to nothing outside itself but browser globals and
 * types.
 */
import type { RunnerStatus, SerfState } from "../../document.ts"
import type { Cells, Dom } from "./dom.ts"
import type { Formats } from "./format.ts"
import type { PoolView } from "./pool.ts"

export const runnerView = (f: Formats, d: Dom, renderPool: PoolView) => {
  const { $, $as, find, txt, attr, show } = d
  const byId = new Intl.Collator("en", { numeric: true })
  /** The states a serf can be in, in the order the summary counts them. */
  const states: Record<SerfState, true> = { running: true, replaying: true, booting: true, restarting: true, stopped: true }
  const classes = ["mono", "", "n", "n", "n", "n", "n", "n", "n", "n"] as const

  return (s: RunnerStatus): void => {
    const serfs = s.role === "serf"
    const pool = s.role === "pool" ? s.pool : null
    txt($("r-addr"), s.runner)
    attr($("r-addr"), "title", s.runner)
    txt($("r-role"), "liege cluster " + s.role)
    txt($("r-shards"), f.int(s.shards))
    txt($("r-fwd"), f.int(s.forwarded))
    for (const part of Array.from($("runner").querySelectorAll<HTMLElement>(".rserf, .rpool"))) {
      show(part, part.classList.contains("rserf") === serfs)
    }
    show($("pool"), pool !== null)
    if (pool !== null) renderPool(pool)
    txt($("r-owned"), f.int(s.sessions?.owned))
    txt($("r-started"), f.int(s.sessions?.started))
    txt($("r-settled"), f.int(s.sessions?.settled))
    if (!serfs) return

    const list = s.serfs.slice().sort((a, b) => byId.compare(a.id, b.id))
    const counts: Partial<Record<SerfState, number>> = {}
    const make = ([, state]: Cells<typeof classes>) => {
      d.pill(state)
      d.el("span", "detail", state)
    }
    d.keyed($as("serfs", HTMLTableElement), list, (x) => x.id, "data-serf", classes, make, (c, { id, status: x }, tr) => {
      const [name, state, pid, eve, win, pending, rate, p50, restarts, snapshot] = c
      const rp = x.replay
      const e = x.events.last10s
      counts[x.state] = (counts[x.state] ?? 0) + 1
      attr(tr, "data-state", x.state)
      txt(name, id)
      attr(name, "title", id)
      d.setPill(find(state, ".pill"), x.state)
      txt(
        find(state, ".detail"),
        x.state === "restarting" && f.isNum(x.nextTryAt)
          ? "next try in " + f.secs(x.nextTryAt - x.now)
          : x.state === "replaying" && rp && rp.total > 0
          ? Math.floor((rp.done / rp.total) * 100) + " %"
          : ""
      )
      txt(pid, x.pid === null ? "—" : x.pid)
      txt(eve, f.int(x.eve))
      txt(win, f.int(x.window.inFlight) + " / " + f.int(x.window.max))
      txt(pending, f.int(x.pending))
      txt(rate, f.rate(e.perSec))
      txt(p50, f.ms(e.p50Ms))
      txt(restarts, f.int(x.restarts.total))
      txt(snapshot, f.int(x.lastSnapshotEve))
    })
    txt($("r-nserfs"), f.int(list.length))
    txt($("r-summary"), list.length + (list.length === 1 ? " serf" : " serfs") + d.summarize(counts, states) + " · rates over 10 s")
    show($("serfs"), list.length > 0)
    show($("serfs-empty"), list.length === 0)
  }
}

export type RunnerView = ReturnType<typeof runnerView>
