/// <reference lib="dom" />
/**
 * The status page's client, part 6 (see page/client/index.ts): one status
 * document onto the page — the block of its kind shown, the others hidden;
 * the header's health (in words, a colour and why), uptime and the tab's
 * title.
 *
 * Runs in the browser. This function is embedded in the page as its source
 * text, so it may refer to nothing outside itself but browser globals and
 * types.
 */
import type { Status } from "../../document.ts"
import type { Dom } from "./dom.ts"
import type { Formats } from "./format.ts"
import type { PoolView } from "./pool.ts"
import type { RunnerView } from "./runner.ts"
import type { SerfView } from "./serf.ts"

export const statusView = (f: Formats, d: Dom, renderPool: PoolView, renderSerf: SerfView, renderRunner: RunnerView) => {
  const { $, txt, cls, attr, show } = d
  let kind: Status["kind"] | null = null

  /** The header's health: in words, its class (a colour) and why. */
  const health = (s: Status): { readonly text: string; readonly cls: string; readonly why: string } => {
    const failed = s.kind === "pool" ? s.failed : s.kind === "runner" && s.pool ? s.pool.failed : null
    if (failed) return { text: "Failed", cls: "h-bad", why: failed.reason + (f.isNum(failed.retryAt) ? " · retrying at " + f.clock(failed.retryAt) : "") }
    if (s.healthy) return { text: "Healthy", cls: "h-ok", why: "" }
    if (s.kind === "runner" && !(s.shards > 0)) return { text: "Joining", cls: "h-wait", why: "owns no shards yet" }
    if (s.kind === "serf" && s.state === "stopped") return { text: "Stopped", cls: "h-bad", why: "" }
    if (s.kind === "serf" && s.state === "restarting") return { text: "Restarting", cls: "h-bad", why: "" }
    if (s.kind === "serf" && s.state === "replaying") return { text: "Replaying", cls: "s-replaying", why: "" }
    return { text: "Starting", cls: "h-wait", why: "" }
  }

  const isStatus = (x: unknown): x is Status =>
    typeof x === "object" && x !== null && "kind" in x && (x.kind === "pool" || x.kind === "serf" || x.kind === "runner")

  /** Shows `doc` (throws if it is not a status document) and answers the time it was taken. */
  return (doc: unknown): number => {
    if (!isStatus(doc)) throw new Error("not a status document")
    const s = doc
    if (kind !== s.kind) {
      kind = s.kind
      show($("pool"), kind === "pool")
      show($("serf"), kind === "serf")
      show($("runner"), kind === "runner")
      txt($("sessions-none"), kind === "runner" ? "In the cluster's database; sessions counted above." : "No session jobs on this server.")
    }
    const name = s.kind === "runner" ? s.role + " runner" : s.kind
    txt($("kind"), name)
    if (s.kind === "pool") renderPool(s)
    else if (s.kind === "serf") renderSerf(s)
    else renderRunner(s)
    const h = health(s)
    cls($("health-pill"), "pill " + h.cls)
    txt($("health-text"), h.text)
    txt($("health-why"), h.why)
    attr($("health-why"), "title", h.why)
    txt($("uptime"), f.dur(s.now - s.startedAt))
    const title = "liege " + name + (s.kind === "runner" ? " " + s.runner : "") + " · " + h.text.toLowerCase()
    if (document.title !== title) document.title = title
    return s.now
  }
}

export type StatusView = ReturnType<typeof statusView>
