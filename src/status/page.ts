/**
 * `GET /ui` (SPEC §10): one self-contained page, HTML with its CSS and plain
 * JS inline, that shows the status document live. It reads `/v1/status`
 * once, then follows `/v1/status/stream` (Server-Sent Events read with
 * `fetch` and a streaming body reader, so that it can send `Authorization:
 * Bearer T`; EventSource cannot). On 401 it asks for the token (kept in
 * sessionStorage, for this tab only); on a dropped stream it keeps the last
 * data, says "reconnecting…" and tries again with backoff.
 *
 * Text from the document (worker messages, reasons, session names) only ever
 * reaches the page as `textContent` or an attribute value, never as markup,
 * and the Content-Security-Policy lets only this page's own script and style
 * run and only this server be fetched.
 */
import { createHash } from "node:crypto"

const style = `
:root{--bg:#f5f6f8;--fg:#1c2230;--muted:#5f6878;--faint:#8a92a0;--card:#fff;--line:#e2e5ea;--track:#eceef2;--accent:#3b6fd8;
--ok:#1e8a4a;--busy:#2f64d6;--boot:#7652c0;--warn:#a86b0c;--bad:#c4382a;--idle:#6b7280;--replay:#0f8088;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#12141a;--fg:#e2e5eb;--muted:#9ba3b1;--faint:#6f7785;--card:#1a1d25;--line:#2a2f3a;--track:#262a34;--accent:#6d95ec;
--ok:#43b874;--busy:#5f8ff0;--boot:#a68cf0;--warn:#e0a443;--bad:#ef6b5e;--idle:#8b93a1;--replay:#38c0c6}}
*{box-sizing:border-box}
[hidden]{display:none!important}
html{background:var(--bg);color:var(--fg)}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-font-smoothing:antialiased}
.wrap{max-width:1240px;margin:0 auto;padding:18px 24px 40px}
h1{font-size:17px;font-weight:600;margin:0;letter-spacing:.01em;white-space:nowrap}
h2 .h2note{font-weight:400;text-transform:none;letter-spacing:0;margin-left:8px;color:var(--faint)}
h1 .kind{font-weight:400;color:var(--muted)}
h2{font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 8px}
.num,td.n,.big,.mini td{font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,"SF Mono",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.92em}
.muted{color:var(--muted)}
.top{display:grid;grid-template-columns:minmax(11em,max-content) minmax(0,1fr) 9.5em 22em;align-items:center;gap:16px;padding:4px 0 16px;border-bottom:1px solid var(--line);margin-bottom:18px}
.health{display:flex;align-items:center;gap:10px;min-width:0}
.health .why{color:var(--muted);overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.up{color:var(--muted);text-align:right;white-space:nowrap}
.up .num{color:var(--fg)}
.live{display:flex;align-items:center;justify-content:flex-end;gap:8px;color:var(--muted);white-space:nowrap;font-variant-numeric:tabular-nums;min-width:0}
.live #live-text{overflow:hidden;text-overflow:ellipsis}
.live .beat{width:8px;height:8px;border-radius:50%;background:var(--faint);flex:none}
[data-conn=live] .live .beat{background:var(--ok);box-shadow:0 0 0 3px color-mix(in srgb,var(--ok) 22%,transparent)}
[data-conn=reconnecting] .live .beat,[data-conn=error] .live .beat{background:var(--warn)}
[data-conn=reconnecting] .live,[data-conn=error] .live{color:var(--warn)}
.stale .cards,.stale section{opacity:.62;transition:opacity .4s}
.pill{--c:var(--idle);display:inline-flex;align-items:center;gap:6px;height:22px;padding:0 9px 0 8px;border-radius:11px;background:color-mix(in srgb,var(--c) 13%,transparent);color:var(--fg);font-size:13px;white-space:nowrap;flex:none}
.pill .dot{width:8px;height:8px;border-radius:50%;background:var(--c);flex:none}
.s-ready,.s-running,.h-ok{--c:var(--ok)}.s-busy{--c:var(--busy)}.s-booting,.h-wait{--c:var(--boot)}.s-replaying{--c:var(--replay)}
.s-retiring{--c:var(--warn)}.s-restarting,.h-bad{--c:var(--bad)}.s-stopped,.s-unknown{--c:var(--idle)}
.h-bad .dot,.s-restarting .dot{box-shadow:0 0 0 2px color-mix(in srgb,var(--c) 30%,transparent)}
.cards{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:14px;margin-bottom:18px}
.card,section{background:var(--card);border:1px solid var(--line);border-radius:8px}
.card{padding:13px 15px;height:150px;overflow:hidden;display:flex;flex-direction:column}
.card.w2{grid-column:span 2}
.big{font-size:26px;line-height:32px;font-weight:500;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.big .unit{font-size:14px;color:var(--muted);font-weight:400;margin-left:3px}
.sub{color:var(--muted);font-size:12.5px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;margin-top:auto}
.sub .num{color:var(--fg)}
.meter{height:6px;border-radius:3px;background:var(--track);overflow:hidden;margin:8px 0 6px}
.meter span{display:block;height:100%;width:0;background:var(--accent);border-radius:3px;transition:width .3s}
.meter.hot span{background:var(--warn)}
.sparkbox{margin:4px 0 2px;height:34px}
.spark{display:block;width:100%;height:34px;overflow:visible}
.spark .bars{fill:color-mix(in srgb,var(--accent) 55%,transparent)}
.spark .line{fill:none;stroke:var(--accent);stroke-width:1.5;vector-effect:non-scaling-stroke;stroke-linejoin:round}
.spark .base{stroke:var(--line);stroke-width:1;vector-effect:non-scaling-stroke}
h2{display:flex;align-items:baseline}
.peak{margin-left:auto;font-size:11px;font-weight:400;text-transform:none;letter-spacing:0;color:var(--faint);font-variant-numeric:tabular-nums}
.counts.big2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:12px;margin:0}
.counts.big2 .num{font-size:26px;line-height:32px;font-weight:500;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.mini{border-collapse:collapse;font-size:12.5px;width:100%;table-layout:fixed;margin-top:auto}
.mini th{font-weight:400;color:var(--muted);text-align:left;padding:1px 0}
.mini th.n,.mini td{text-align:right;padding:1px 0}
.mini th:first-child{width:3.5em}
.mini thead th{font-size:11.5px}
section{padding:14px 16px;margin-bottom:18px}
.split{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:14px;margin-bottom:18px}
.split section{margin:0}
.scroll{overflow-x:auto}
col.w4_5{width:4.5em}col.w5_5{width:5.5em}col.w6{width:6em}col.w7{width:7em}col.w9{width:9em}col.w17{width:17em}col.w8{width:8em}col.w14{width:14em}col.w18{width:18em}
table.grid{width:100%;border-collapse:collapse;table-layout:fixed}
.grid th{font-size:12px;font-weight:500;color:var(--muted);text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.grid td{padding:0 10px;height:36px;border-bottom:1px solid var(--line);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.grid tr:last-child td{border-bottom:0}
.grid th.n,.grid td.n{text-align:right}
.grid td .detail{color:var(--muted);margin-left:8px;font-size:12.5px;font-variant-numeric:tabular-nums}
#slots{min-width:900px}
.reason{color:var(--muted)}
.errs td{height:auto;padding-top:7px;padding-bottom:7px;vertical-align:top}
.errs td.msg{white-space:normal}
.errs td.msg div{overflow-wrap:anywhere;display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden}
.grid td.t{color:var(--muted);font-variant-numeric:tabular-nums}
.errs .tag{font-family:ui-monospace,"SF Mono",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px;color:var(--bad)}
.empty{color:var(--faint);margin:6px 0 2px}
.counts{display:flex;gap:20px;margin-bottom:10px}
.counts div{min-width:4.5em;overflow:hidden}
.counts .num,.rhead .num{display:block;font-size:20px;line-height:26px}
.counts .k,.rhead .k{font-size:12px;color:var(--muted)}
.rhead{display:grid;grid-template-columns:minmax(0,2fr) repeat(6,minmax(0,1fr));gap:16px}
.rhead div{min-width:0}.rhead .num,.rhead .k{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.rhead .r1{border-left:1px solid var(--line);padding-left:16px}
#serfs{min-width:1080px}
.replay{margin-top:auto}
.replay .meter{height:10px;border-radius:5px;margin:0 0 6px}
.replay .meter span{background:var(--replay);border-radius:5px}
.replay.idle{margin-top:10px}
.replay.idle .meter{display:none}
.stateline{display:flex;align-items:center;gap:12px;min-width:0;height:32px}
.stateline .pill{height:26px;font-size:14px;border-radius:13px;padding:0 11px 0 9px}
.auth{max-width:460px;margin:40px auto;padding:22px 24px}
.auth h2{font-size:15px;text-transform:none;letter-spacing:0;color:var(--fg)}
.auth .row{display:flex;gap:8px;margin-top:14px}
.auth label{position:absolute;left:-9999px}
.auth input{flex:1;min-width:0;font:inherit;padding:7px 10px;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
.auth input:focus{outline:2px solid var(--accent);outline-offset:1px}
.auth button{font:inherit;padding:7px 14px;border:0;border-radius:6px;background:var(--accent);color:#fff;cursor:pointer}
.auth .msg{color:var(--bad);min-height:1.45em;margin:10px 0 0}
@media (prefers-reduced-motion:reduce){*{transition:none!important}}
@media (max-width:900px){.wrap{padding:14px 16px 32px}.cards,.split{grid-template-columns:repeat(2,minmax(0,1fr))}.rhead{grid-template-columns:repeat(4,minmax(0,1fr))}.rhead div:first-child{grid-column:span 2}.rhead .r1{border:0;padding:0}.top{grid-template-columns:auto minmax(0,1fr) auto auto}}
@media (max-width:640px){.top{grid-template-columns:auto minmax(0,1fr) auto}.up{display:none}}
`

const spark = (id: string, kind: "bars" | "line") =>
  `<div class="sparkbox"><svg class="spark" id="${id}" viewBox="0 0 60 34" preserveAspectRatio="none" aria-hidden="true"><line class="base" x1="0" y1="33.5" x2="60" y2="33.5"></line><path class="${kind}"></path></svg></div>`

const body = `
<div class="wrap">
<header class="top">
<h1>liege <span class="kind" id="kind">status</span></h1>
<div class="health" id="health" role="status" aria-live="polite"><span class="pill s-unknown" id="health-pill"><span class="dot"></span><span id="health-text">Connecting</span></span><span class="why" id="health-why"></span></div>
<div class="up">up <span class="num" id="uptime">—</span></div>
<div class="live" id="live"><span class="beat" aria-hidden="true"></span><span id="live-text">connecting…</span></div>
</header>
<form class="auth card" id="auth" hidden>
<h2>This server needs a token</h2>
<p class="muted">It was started with <code>--token</code>. Enter the token to see its status; it is kept for this tab only.</p>
<div class="row"><label for="token">Token</label><input id="token" name="token" type="password" aria-describedby="auth-msg" autocomplete="current-password" placeholder="Token" spellcheck="false"><button type="submit">Show status</button></div>
<p class="msg" id="auth-msg"></p>
</form>
<main>
<div id="runner" hidden>
<section class="rhead" aria-label="Runner">
<div><span class="num mono" id="r-addr">—</span><span class="k">runner · <span id="r-role">—</span></span></div>
<div><span class="num" id="r-shards">0</span><span class="k">shards owned</span></div>
<div><span class="num" id="r-fwd">0</span><span class="k">forwarded</span></div>
<div class="rserf"><span class="num" id="r-nserfs">0</span><span class="k">serfs here</span></div>
<div class="rpool r1"><span class="num" id="r-owned">0</span><span class="k">sessions owned</span></div>
<div class="rpool"><span class="num" id="r-started">0</span><span class="k">sessions started</span></div>
<div class="rpool"><span class="num" id="r-settled">0</span><span class="k">sessions settled</span></div>
</section>
<section class="rserf"><h2>Serfs <span class="h2note" id="r-summary"></span></h2><div class="scroll"><table class="grid" id="serfs">
<colgroup><col><col class="w17"><col class="w6"><col class="w8"><col class="w9"><col class="w5_5"><col class="w6"><col class="w6"><col class="w5_5"><col class="w8"></colgroup>
<thead><tr><th scope="col">Serf</th><th scope="col">State</th><th scope="col" class="n">PID</th><th scope="col" class="n">Eve</th><th scope="col" class="n">Window</th><th scope="col" class="n">Pending</th><th scope="col" class="n">Events/s</th><th scope="col" class="n">p50</th><th scope="col" class="n">Restarts</th><th scope="col" class="n">Snapshot</th></tr></thead>
<tbody></tbody></table></div><p class="empty" id="serfs-empty" hidden>No serfs run on this runner now.</p></section>
</div>
<div id="pool" hidden>
<div class="cards">
<div class="card" id="c-queue"><h2>Queue</h2>
<div class="big"><span id="q-depth">0</span><span class="unit">of <span id="q-max">0</span></span></div>
<div class="meter" id="q-meter"><span id="q-bar"></span></div>
<div class="sub"><span class="num" id="p-inflight">0</span> in flight</div></div>
<div class="card" id="c-rps"><h2>Requests/s<span class="peak" id="r-spark-peak"></span></h2>
<div class="big"><span id="r-10">—</span><span class="unit">/s · 10 s</span></div>
${spark("r-spark", "bars")}
<div class="sub">60 s <span class="num" id="r-60">—</span>/s · <span class="num" id="r-count">0</span> requests</div></div>
<div class="card" id="c-lat"><h2>Latency<span class="peak" id="l-spark-peak"></span></h2>
${spark("l-spark", "line")}
<table class="mini"><thead><tr><th></th><th class="n">p50</th><th class="n">p99</th></tr></thead><tbody>
<tr><th>10 s</th><td id="l-50-10">—</td><td id="l-99-10">—</td></tr>
<tr><th>60 s</th><td id="l-50-60">—</td><td id="l-99-60">—</td></tr></tbody></table></div>
<div class="card" id="c-restarts"><h2>Exits</h2>
<div class="counts big2"><div><span class="num" id="rs-total">0</span><span class="k">restarts</span></div><div><span class="num" id="rc-total">0</span><span class="k">recycles</span></div></div>
<div class="sub" id="rs-last"></div></div>
</div>
<section><h2>Workers <span class="h2note" id="p-workers"></span></h2><div class="scroll"><table class="grid" id="slots">
<colgroup><col class="w4_5"><col class="w5_5"><col class="w6"><col class="w18"><col class="w6"><col class="w8"><col class="w7"><col class="w7"><col></colgroup>
<thead><tr><th scope="col">Slot</th><th scope="col">Worker</th><th scope="col" class="n">PID</th><th scope="col">State</th><th scope="col" class="n">In flight</th><th scope="col" class="n">Served</th><th scope="col" class="n">RSS</th><th scope="col" class="n">Age</th><th scope="col">Last exit</th></tr></thead>
<tbody></tbody></table></div><p class="empty" id="slots-empty" hidden>No workers.</p></section>
<div class="split">
<section><h2>Restarts by reason</h2><table class="grid" id="rs-reasons" aria-label="Restarts by reason"><colgroup><col><col class="w6"></colgroup><tbody></tbody></table><p class="empty" id="rs-empty">None.</p></section>
<section><h2>Recycles by reason</h2><table class="grid" id="rc-reasons" aria-label="Recycles by reason"><colgroup><col><col class="w6"></colgroup><tbody></tbody></table><p class="empty" id="rc-empty">None.</p></section>
<section><h2>Session jobs</h2><div id="sessions">
<div class="counts"><div><span class="num" id="j-queued">0</span><span class="k">queued</span></div><div><span class="num" id="j-running">0</span><span class="k">running</span></div><div><span class="num" id="j-done">0</span><span class="k">done</span></div><div><span class="num" id="j-failed">0</span><span class="k">failed</span></div></div>
<table class="grid" id="busiest"><colgroup><col><col class="w5_5"><col class="w5_5"></colgroup><thead><tr><th scope="col">Busiest session</th><th scope="col" class="n">Queued</th><th scope="col" class="n">Running</th></tr></thead><tbody></tbody></table></div>
<p class="empty" id="sessions-none" hidden>No session jobs on this server.</p></section>
</div>
<section><h2>Recent errors</h2><table class="grid errs" id="p-errors"><colgroup><col class="w7"><col class="w14"><col></colgroup><thead><tr><th scope="col">Time</th><th scope="col">Tag</th><th scope="col">Message</th></tr></thead><tbody></tbody></table><p class="empty" id="p-errors-empty">No errors.</p></section>
</div>
<div id="serf" hidden>
<div class="cards">
<div class="card w2" id="c-state"><h2>Serf</h2>
<div class="stateline"><span class="pill s-unknown" id="s-pill"><span class="dot"></span><span id="s-state">—</span></span><span class="muted" id="s-detail"></span></div>
<div class="replay idle" id="s-replay"><div class="meter" id="s-replay-meter" role="progressbar" aria-label="Replay" aria-valuemin="0"><span id="s-replay-bar"></span></div>
<div class="sub" id="s-replay-text">No replay in progress.</div></div></div>
<div class="card" id="c-eve"><h2>Last event (eve)</h2><div class="big" id="s-eve">0</div><div class="sub">mug <code id="s-mug">—</code></div></div>
<div class="card" id="c-window"><h2>Window</h2>
<div class="big"><span id="w-in">0</span><span class="unit">of <span id="w-max">0</span> in flight</span></div>
<div class="meter" id="w-meter"><span id="w-bar"></span></div>
<div class="sub">pending <span class="num" id="s-pending">0</span></div></div>
<div class="card w2" id="c-eps"><h2>Events/s<span class="peak" id="e-spark-peak"></span></h2>
<div class="big"><span id="e-10">—</span><span class="unit">/s · 10 s</span></div>
${spark("e-spark", "bars")}
<div class="sub">60 s <span class="num" id="e-60">—</span>/s · <span class="num" id="e-count">0</span> events · p50 <span class="num" id="e-p50">—</span> · p99 <span class="num" id="e-p99">—</span></div></div>
<div class="card" id="c-commits"><h2>Group commit</h2>
<div class="big"><span id="cm-mean">—</span><span class="unit">events, mean</span></div>
<div class="sub">largest <span class="num" id="cm-max">0</span> · <span class="num" id="cm-total">0</span> commits</div></div>
<div class="card" id="c-log"><h2>Log</h2>
<div class="big" id="s-log">—</div>
<div class="sub">on disk · snapshot at event <span class="num" id="s-snap">—</span></div></div>
</div>
<section><h2>Restarts <span class="h2note" id="s-restarts"></span></h2><table class="grid" id="s-exits"><colgroup><col class="w7"><col><col class="w14"></colgroup><thead><tr><th scope="col">Time</th><th scope="col">Reason</th><th scope="col">Ended by</th></tr></thead><tbody></tbody></table><p class="empty" id="s-exits-empty">No restarts.</p></section>
<section><h2>Recent errors</h2><table class="grid errs" id="s-errors"><colgroup><col class="w7"><col class="w14"><col></colgroup><thead><tr><th scope="col">Time</th><th scope="col">Tag</th><th scope="col">Message</th></tr></thead><tbody></tbody></table><p class="empty" id="s-errors-empty">No errors.</p></section>
</div>
</main>
</div>`

const script = `(function () {
"use strict";
var KEY = "liege.token";
/* the routes sit next to the page: /ui → /v1/status, /liege/ui → /liege/v1/status */
var base = location.pathname.replace(/[^\\/]*\\/?$/, "") || "/";
function $(id) { return document.getElementById(id); }
var token = null;
try { token = sessionStorage.getItem(KEY); } catch (e) { token = null; }

var fInt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
var f1 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
var f2 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
var byId = new Intl.Collator("en", { numeric: true });
var fClock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
function isNum(n) { return typeof n === "number" && isFinite(n); }
function int(n) { return isNum(n) ? fInt.format(n) : "—"; }
function rate(n) { return !isNum(n) ? "—" : n >= 100 ? fInt.format(n) : n >= 10 ? f1.format(n) : f2.format(n); }
function ms(n) {
  if (!isNum(n)) return "—";
  if (n < 1) return f2.format(n) + " ms";
  if (n < 100) return f1.format(n) + " ms";
  if (n < 1000) return fInt.format(n) + " ms";
  return f2.format(n / 1000) + " s";
}
function mb(b) { return isNum(b) ? f1.format(b / 1e6) + " MB" : "—"; }
function size(b) {
  if (!isNum(b)) return "—";
  if (b < 1e3) return fInt.format(b) + " B";
  if (b < 1e6) return f1.format(b / 1e3) + " kB";
  if (b < 1e9) return f1.format(b / 1e6) + " MB";
  return f2.format(b / 1e9) + " GB";
}
function pad(n) { return n < 10 ? "0" + n : "" + n; }
function dur(d) {
  if (!isNum(d)) return "—";
  var s = Math.max(0, Math.floor(d / 1000));
  if (s < 60) return s + " s";
  var m = Math.floor(s / 60);
  if (m < 60) return m + " m " + pad(s % 60) + " s";
  var h = Math.floor(m / 60);
  if (h < 24) return h + " h " + pad(m % 60) + " m";
  return Math.floor(h / 24) + " d " + pad(h % 24) + " h";
}
function clock(t) { return isNum(t) ? fClock.format(new Date(t)) : "—"; }
function secs(d) { d = Math.max(0, d) / 1000; return (d < 10 ? f1.format(d) : fInt.format(Math.ceil(d))) + " s"; }
function hex(n) { return isNum(n) ? "0x" + (n >>> 0).toString(16).padStart(8, "0") : "—"; }

function txt(el, s) { s = String(s); if (el.textContent !== s) el.textContent = s; }
function cls(el, c) { if (el.getAttribute("class") !== c) el.setAttribute("class", c); }
function attr(el, k, v) { v = String(v); if (el.getAttribute(k) !== v) el.setAttribute(k, v); }
function show(el, on) { if (el.hidden === on) el.hidden = !on; }
function width(el, f) { var w = (Math.max(0, Math.min(1, isNum(f) ? f : 0)) * 100).toFixed(2) + "%"; if (el.style.width !== w) el.style.width = w; }
var KNOWN = { booting: 1, ready: 1, busy: 1, retiring: 1, restarting: 1, replaying: 1, running: 1, stopped: 1 };
function stateClass(s) { return "pill s-" + (Object.prototype.hasOwnProperty.call(KNOWN, s) ? s : "unknown"); }
function el(tag, c, parent) { var e = document.createElement(tag); if (c) e.className = c; if (parent) parent.appendChild(e); return e; }
function pill(parent) { var p = el("span", "pill s-unknown", parent); el("span", "dot", p); el("span", "label", p); return p; }

/* Rows of a table body, n of them, each with the given cell classes; make(tr) fills a new row. */
function rows(table, n, cells, make) {
  var body = table.tBodies[0];
  while (body.rows.length < n) {
    var tr = el("tr", "", body);
    for (var i = 0; i < cells.length; i++) el("td", cells[i], tr);
    if (make) make(tr);
  }
  while (body.rows.length > n) body.deleteRow(-1);
  return body.rows;
}

/* Rows keyed by the attribute k, in the order of keys: a row stays the same element while its key stays. */
function keyed(table, keys, k, cells, make) {
  var body = table.tBodies[0], old = new Map(), out = [], i, tr;
  for (i = 0; i < body.rows.length; i++) old.set(body.rows[i].getAttribute(k), body.rows[i]);
  for (i = 0; i < keys.length; i++) {
    tr = old.get(keys[i]);
    if (tr) old.delete(keys[i]);
    else {
      tr = el("tr", "");
      for (var j = 0; j < cells.length; j++) el("td", cells[j], tr);
      attr(tr, k, keys[i]);
      make(tr);
    }
    if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null);
    out.push(tr);
  }
  old.forEach(function (tr) { tr.remove(); });
  return out;
}

/* Sparklines: a value per second for the last 60 s, oldest first, the newest at the right. */
function spark(id, values, kind, unit) {
  var svg = $(id), path = svg.querySelector("path"), peak = $(id + "-peak");
  var vs = Array.isArray(values) ? values.slice(-60) : [];
  var off = 60 - vs.length, max = 0, i, v;
  for (i = 0; i < vs.length; i++) if (isNum(vs[i]) && vs[i] > max) max = vs[i];
  var top = max > 0 ? max : 1, d = "";
  function y(v) { return (33 - (v / top) * 31).toFixed(2); }
  if (kind === "bars") {
    for (i = 0; i < vs.length; i++) {
      v = vs[i];
      if (isNum(v) && v > 0) d += "M" + (off + i + 0.12).toFixed(2) + " 33.5V" + y(v) + "h0.76V33.5z";
    }
  } else {
    var pen = false;
    for (i = 0; i < vs.length; i++) {
      v = vs[i];
      if (!isNum(v)) { pen = false; continue; }
      var x = (off + i + 0.5).toFixed(2), next = vs[i + 1];
      if (!pen && !isNum(next)) d += "M" + (off + i + 0.2).toFixed(2) + " " + y(v) + "H" + (off + i + 0.8).toFixed(2);
      else d += (pen ? "L" : "M") + x + " " + y(v);
      pen = true;
    }
  }
  attr(path, "d", d);
  txt(peak, max > 0 ? "peak " + unit(max) : "");
}

/* ---- pool ---- */
function slotRow(tr) { pill(tr.cells[3]); el("span", "detail", tr.cells[3]); }
function renderPool(s) {
  var now = s.now, ws = Array.isArray(s.workers) ? s.workers.slice() : [];
  ws.sort(function (a, b) { return a.slot - b.slot; });
  var trs = rows($("slots"), ws.length, ["", "", "n", "", "n", "n", "n", "n", ""], slotRow);
  show($("slots-empty"), ws.length === 0);
  var inFlight = 0, counts = {};
  for (var i = 0; i < ws.length; i++) {
    var w = ws[i], c = trs[i].cells;
    inFlight += w.inFlight || 0;
    counts[w.state] = (counts[w.state] || 0) + 1;
    attr(trs[i], "data-slot", w.slot);
    attr(trs[i], "data-state", w.state);
    txt(c[0], int(w.slot));
    txt(c[1], w.worker === null ? "—" : "#" + int(w.worker));
    txt(c[2], w.pid === null ? "—" : w.pid);
    var p = c[3].firstChild;
    cls(p, stateClass(w.state));
    txt(p.lastChild, w.state);
    txt(c[3].lastChild, w.state === "restarting" && isNum(w.nextTryAt) ? "next try in " + secs(w.nextTryAt - now) : "");
    txt(c[4], int(w.inFlight));
    txt(c[5], int(w.served));
    txt(c[6], mb(w.rssBytes));
    txt(c[7], w.startedAt === null ? "—" : dur(now - w.startedAt));
    var x = w.lastExit;
    txt(c[8], x ? x.reason + " · " + dur(now - x.at) + " ago" : "—");
    attr(c[8], "title", x ? x.reason + (x.code !== null ? ", exit code " + x.code : "") + (x.signal ? ", signal " + x.signal : "") + ", at " + clock(x.at) : "");
    cls(c[8], x ? "reason" : "");
  }
  txt($("p-workers"), ws.length + (ws.length === 1 ? " worker" : " workers") + summarize(counts, ["ready", "busy", "booting", "retiring", "restarting"]));
  txt($("p-inflight"), int(inFlight));

  var q = s.queue || {};
  txt($("q-depth"), int(q.depth));
  txt($("q-max"), int(q.max));
  width($("q-bar"), q.max > 0 ? q.depth / q.max : 0);
  cls($("q-meter"), "meter" + (q.max > 0 && q.depth / q.max >= 0.8 ? " hot" : ""));

  var r = s.requests;
  txt($("r-10"), rate(r.last10s.perSec));
  txt($("r-60"), rate(r.last60s.perSec));
  txt($("r-count"), int(r.last60s.count));
  spark("r-spark", r.perSecond, "bars", function (v) { return int(v) + "/s"; });
  spark("l-spark", r.p50PerSecond, "line", function (v) { return "p50 " + ms(v); });
  txt($("l-50-10"), ms(r.last10s.p50Ms)); txt($("l-99-10"), ms(r.last10s.p99Ms));
  txt($("l-50-60"), ms(r.last60s.p50Ms)); txt($("l-99-60"), ms(r.last60s.p99Ms));

  txt($("rs-total"), int(s.restarts.total));
  txt($("rc-total"), int(s.recycles.total));
  var last = null;
  for (i = 0; i < ws.length; i++) if (ws[i].lastExit && (!last || ws[i].lastExit.at > last.at)) last = ws[i].lastExit;
  txt($("rs-last"), last ? "last: " + last.reason + " · " + dur(now - last.at) + " ago" : "no worker has exited");
  reasons("rs", s.restarts.byReason);
  reasons("rc", s.recycles.byReason);

  var j = s.sessions;
  show($("sessions"), !!j);
  show($("sessions-none"), !j);
  if (j) {
    txt($("j-queued"), int(j.byState.queued)); txt($("j-running"), int(j.byState.running));
    txt($("j-done"), int(j.byState.done)); txt($("j-failed"), int(j.byState.failed));
    var b = Array.isArray(j.busiest) ? j.busiest.slice(0, 10) : [];
    var bt = rows($("busiest"), b.length, ["", "n", "n"]);
    for (i = 0; i < b.length; i++) {
      txt(bt[i].cells[0], b[i].session); attr(bt[i].cells[0], "title", b[i].session);
      txt(bt[i].cells[1], int(b[i].queued)); txt(bt[i].cells[2], int(b[i].running));
    }
  }
  errors("p-errors", s.errors);
}
function reasons(id, by) {
  var list = [];
  for (var k in by) if (Object.prototype.hasOwnProperty.call(by, k)) list.push([k, by[k]]);
  list.sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); });
  var trs = rows($(id + "-reasons"), list.length, ["reason", "n"]);
  for (var i = 0; i < list.length; i++) { txt(trs[i].cells[0], list[i][0]); attr(trs[i].cells[0], "title", list[i][0]); txt(trs[i].cells[1], int(list[i][1])); }
  show($(id + "-empty"), list.length === 0);
}
function errors(id, es) {
  var list = Array.isArray(es) ? es.slice() : [];
  list.sort(function (a, b) { return b.at - a.at; });
  list = list.slice(0, 20);
  var trs = rows($(id), list.length, ["t", "tag", "msg"], function (tr) { el("div", "", tr.cells[2]); });
  for (var i = 0; i < list.length; i++) {
    var c = trs[i].cells;
    txt(c[0], clock(list[i].at)); txt(c[1], list[i].tag); txt(c[2].firstChild, list[i].message);
    attr(c[1], "title", list[i].tag); attr(c[2], "title", list[i].message);
  }
  show($(id), list.length > 0);
  show($(id + "-empty"), list.length === 0);
}

/* ---- serf ---- */
var replayFrom = null;
function renderSerf(s) {
  var now = s.now;
  cls($("s-pill"), stateClass(s.state));
  txt($("s-state"), s.state);
  var detail = [];
  if (s.state === "restarting" && isNum(s.nextTryAt)) detail.push("next try in " + secs(s.nextTryAt - now));
  detail.push(s.pid === null ? "no process" : "pid " + s.pid);
  txt($("s-detail"), detail.join(" · "));
  var rp = s.replay, box = $("s-replay"), meter = $("s-replay-meter");
  if (rp && rp.total > 0) {
    cls(box, "replay");
    width($("s-replay-bar"), rp.done / rp.total);
    attr(meter, "aria-valuemax", rp.total); attr(meter, "aria-valuenow", rp.done);
    /* time left, from the pace seen since this page first saw this replay */
    if (!replayFrom || replayFrom.total !== rp.total || rp.done < replayFrom.done) replayFrom = { done: rp.done, total: rp.total, at: now };
    var pace = now > replayFrom.at ? (rp.done - replayFrom.done) / (now - replayFrom.at) : 0;
    var left = pace > 0 ? " · about " + dur(Math.ceil((rp.total - rp.done) / pace / 1000) * 1000) + " left" : "";
    txt($("s-replay-text"), "Replaying: " + int(rp.done) + " of " + int(rp.total) + " events · " + Math.floor((rp.done / rp.total) * 100) + " %" + left);
  } else {
    replayFrom = null;
    cls(box, "replay idle");
    width($("s-replay-bar"), rp ? 1 : 0);
    meter.removeAttribute("aria-valuenow");
    txt($("s-replay-text"), s.state === "replaying" ? "Replaying…" : "No replay in progress.");
  }
  txt($("s-eve"), int(s.eve));
  txt($("s-mug"), hex(s.mug));
  txt($("w-in"), int(s.window.inFlight));
  txt($("w-max"), int(s.window.max));
  width($("w-bar"), s.window.max > 0 ? s.window.inFlight / s.window.max : 0);
  txt($("s-pending"), int(s.pending));
  var e = s.events;
  txt($("e-10"), rate(e.last10s.perSec));
  txt($("e-60"), rate(e.last60s.perSec));
  txt($("e-count"), int(e.last60s.count));
  txt($("e-p50"), ms(e.last10s.p50Ms)); txt($("e-p99"), ms(e.last10s.p99Ms));
  spark("e-spark", e.perSecond, "bars", function (v) { return int(v) + "/s"; });
  txt($("cm-mean"), isNum(s.commits.meanBatch) ? f1.format(s.commits.meanBatch) : "—");
  txt($("cm-max"), int(s.commits.maxBatch));
  txt($("cm-total"), int(s.commits.total));
  txt($("s-log"), size(s.logBytes));
  txt($("s-snap"), s.lastSnapshotEve === null ? "—" : int(s.lastSnapshotEve));
  txt($("s-restarts"), int(s.restarts.total) + " since start");
  var xs = Array.isArray(s.restarts.recent) ? s.restarts.recent.slice() : [];
  xs.sort(function (a, b) { return b.at - a.at; });
  var trs = rows($("s-exits"), xs.length, ["t", "", "t"]);
  for (var i = 0; i < xs.length; i++) {
    var c = trs[i].cells, x = xs[i];
    txt(c[0], clock(x.at)); txt(c[1], x.reason); attr(c[1], "title", x.reason);
    txt(c[2], x.signal ? "signal " + x.signal : x.code === null ? "" : "exit code " + x.code);
  }
  show($("s-exits"), xs.length > 0);
  show($("s-exits-empty"), xs.length === 0);
  errors("s-errors", s.errors);
}

/* ---- runner ---- */
function summarize(counts, order) {
  var out = [];
  order.forEach(function (k) { if (counts[k]) out.push(counts[k] + " " + k); });
  return out.length ? ": " + out.join(", ") : "";
}
function renderRunner(s) {
  var serfs = s.role === "serf", pl = s.role === "pool" && s.pool ? s.pool : null, i;
  txt($("r-addr"), s.runner); attr($("r-addr"), "title", s.runner);
  txt($("r-role"), "liege cluster " + s.role);
  txt($("r-shards"), int(s.shards));
  txt($("r-fwd"), int(s.forwarded));
  var parts = $("runner").querySelectorAll(".rserf, .rpool");
  for (i = 0; i < parts.length; i++) show(parts[i], parts[i].classList.contains("rserf") === serfs);
  show($("pool"), !!pl);
  if (pl) renderPool(pl);
  var j = s.sessions || {};
  txt($("r-owned"), int(j.owned)); txt($("r-started"), int(j.started)); txt($("r-settled"), int(j.settled));
  if (!serfs) return;
  var list = (Array.isArray(s.serfs) ? s.serfs : []).filter(function (x) { return x && x.status; });
  list.sort(function (a, b) { return byId.compare(a.id, b.id); });
  var trs = keyed($("serfs"), list.map(function (x) { return String(x.id); }), "data-serf", ["mono", "", "n", "n", "n", "n", "n", "n", "n", "n"], function (tr) {
    pill(tr.cells[1]); el("span", "detail", tr.cells[1]);
  });
  var counts = {};
  for (i = 0; i < list.length; i++) {
    var x = list[i].status, c = trs[i].cells, rp = x.replay, e = x.events.last10s;
    counts[x.state] = (counts[x.state] || 0) + 1;
    attr(trs[i], "data-state", x.state);
    txt(c[0], list[i].id); attr(c[0], "title", list[i].id);
    cls(c[1].firstChild, stateClass(x.state));
    txt(c[1].firstChild.lastChild, x.state);
    txt(c[1].lastChild, x.state === "restarting" && isNum(x.nextTryAt) ? "next try in " + secs(x.nextTryAt - x.now)
      : x.state === "replaying" && rp && rp.total > 0 ? Math.floor((rp.done / rp.total) * 100) + " %" : "");
    txt(c[2], x.pid === null ? "—" : x.pid);
    txt(c[3], int(x.eve));
    txt(c[4], int(x.window.inFlight) + " / " + int(x.window.max));
    txt(c[5], int(x.pending));
    txt(c[6], rate(e.perSec));
    txt(c[7], ms(e.p50Ms));
    txt(c[8], int(x.restarts.total));
    txt(c[9], x.lastSnapshotEve === null ? "—" : int(x.lastSnapshotEve));
  }
  txt($("r-nserfs"), int(list.length));
  txt($("r-summary"), list.length + (list.length === 1 ? " serf" : " serfs") + summarize(counts, ["running", "replaying", "booting", "restarting", "stopped"]) + " · rates over 10 s");
  show($("serfs"), list.length > 0);
  show($("serfs-empty"), list.length === 0);
}

/* ---- the document ---- */
var lastAt = null, kind = null;
function render(s) {
  if (!s || (s.kind !== "pool" && s.kind !== "serf" && s.kind !== "runner")) throw new Error("not a status document");
  if (kind !== s.kind) {
    kind = s.kind;
    show($("pool"), kind === "pool");
    show($("serf"), kind === "serf");
    show($("runner"), kind === "runner");
    txt($("sessions-none"), kind === "runner" ? "In the cluster's database; sessions counted above." : "No session jobs on this server.");
  }
  var name = kind === "runner" ? s.role + " runner" : kind;
  txt($("kind"), name);
  if (kind === "pool") renderPool(s); else if (kind === "serf") renderSerf(s); else renderRunner(s);
  var h, why = "", hc, f = kind === "pool" ? s.failed : kind === "runner" && s.pool ? s.pool.failed : null;
  if (f) {
    h = "Failed"; hc = "h-bad";
    why = f.reason + (isNum(f.retryAt) ? " · retrying at " + clock(f.retryAt) : "");
  } else if (s.healthy) { h = "Healthy"; hc = "h-ok"; }
  else if (kind === "runner" && !(s.shards > 0)) { h = "Joining"; hc = "h-wait"; why = "owns no shards yet"; }
  else if (kind === "serf" && (s.state === "stopped" || s.state === "restarting")) { h = s.state === "stopped" ? "Stopped" : "Restarting"; hc = "h-bad"; }
  else if (kind === "serf" && s.state === "replaying") { h = "Replaying"; hc = "s-replaying"; }
  else { h = "Starting"; hc = "h-wait"; }
  cls($("health-pill"), "pill " + hc);
  txt($("health-text"), h);
  txt($("health-why"), why);
  attr($("health-why"), "title", why);
  txt($("uptime"), dur(s.now - s.startedAt));
  var title = "liege " + name + (kind === "runner" ? " " + s.runner : "") + " · " + h.toLowerCase();
  if (document.title !== title) document.title = title;
  lastAt = s.now;
}

/* ---- connection ---- */
var gen = 0, ctl = null, retry = 0, stall = 0, attempt = 0;
function conn(state, text) {
  attr(document.body, "data-conn", state);
  txt($("live-text"), text);
  var stale = lastAt !== null && state !== "live";
  ["pool", "serf", "runner"].forEach(function (id) { $(id).classList.toggle("stale", stale); });
}
function since() { return lastAt === null ? "" : " · last update " + clock(lastAt); }
function accept(doc) {
  try { render(doc); } catch (e) { conn("error", "unreadable status document" + since()); return false; }
  attempt = 0;
  conn("live", "live · updated " + clock(lastAt));
  return true;
}
function headers(extra) {
  var h = extra || {};
  if (token) h.Authorization = "Bearer " + token;
  return h;
}
function stop() {
  gen++;
  if (ctl) { ctl.abort(); ctl = null; }
  clearTimeout(retry); clearTimeout(stall);
}
function start() {
  stop();
  var my = gen;
  if (lastAt === null) conn("connecting", "connecting…");
  fetch(base + "v1/status", { headers: headers({ Accept: "application/json" }), cache: "no-store" })
    .then(function (res) {
      if (my !== gen) return null;
      if (res.status === 401) { unauthorized(); return null; }
      if (!res.ok) return "go";
      return res.json().then(function (doc) { if (my === gen) accept(doc); return "go"; });
    }, function () { return "go"; })
    .then(function (go) { if (go && my === gen) stream(my); }, function () { if (my === gen) stream(my); });
}
function stream(my) {
  var c = new AbortController();
  ctl = c;
  fetch(base + "v1/status/stream", { headers: headers({ Accept: "text/event-stream" }), cache: "no-store", signal: c.signal })
    .then(function (res) {
      if (my !== gen) return;
      if (res.status === 401) { unauthorized(); return; }
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      return read(res.body.getReader(), my, c).then(function () { dropped(my); });
    })
    .catch(function () { dropped(my); });
}
function watch(c) {
  clearTimeout(stall);
  stall = setTimeout(function () { c.abort(); }, 4000);
}
/* Server-Sent Events: "data:" lines gather into one event, a blank line ends it. */
function read(reader, my, c) {
  var dec = new TextDecoder(), buf = "", data = [];
  watch(c);
  function line(l) {
    if (l === "") {
      if (data.length > 0) {
        var text = data.join("\\n"); data = [];
        var doc;
        try { doc = JSON.parse(text); } catch (e) { conn("error", "unreadable status document" + since()); return; }
        accept(doc);
      }
      return;
    }
    if (l.charCodeAt(0) === 58) return;
    var i = l.indexOf(":"), field = i < 0 ? l : l.slice(0, i), value = i < 0 ? "" : l.slice(i + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") data.push(value);
  }
  function pump() {
    return reader.read().then(function (r) {
      if (my !== gen) { reader.cancel().catch(function () {}); return; }
      if (r.done) return;
      watch(c);
      buf += dec.decode(r.value, { stream: true });
      var i;
      while ((i = buf.indexOf("\\n")) >= 0) {
        var l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        line(l.charCodeAt(l.length - 1) === 13 ? l.slice(0, -1) : l);
      }
      return pump();
    });
  }
  return pump();
}
function dropped(my) {
  if (my !== gen) return;
  clearTimeout(stall);
  ctl = null;
  attempt++;
  var delay = Math.min(10000, 500 * Math.pow(2, attempt - 1)) * (0.8 + Math.random() * 0.4);
  conn("reconnecting", "reconnecting…" + since());
  retry = setTimeout(function () { if (my === gen) stream(my); }, delay);
}
function unauthorized() {
  var had = token !== null;
  stop();
  token = null;
  try { sessionStorage.removeItem(KEY); } catch (e) { /* private mode */ }
  conn("auth", "token required");
  if (lastAt === null) { cls($("health-pill"), "pill s-unknown"); txt($("health-text"), "Locked"); }
  $("auth").hidden = false;
  txt($("auth-msg"), had ? "The server did not accept that token." : "");
  var input = $("token");
  input.value = "";
  input.focus();
}
$("auth").addEventListener("submit", function (ev) {
  ev.preventDefault();
  var v = $("token").value.trim();
  if (v === "") { txt($("auth-msg"), "Enter the token."); return; }
  if (!/^[\\x20-\\x7e]+$/.test(v)) { txt($("auth-msg"), "A token is sent in a header: printable ASCII only."); return; }
  token = v;
  try { sessionStorage.setItem(KEY, v); } catch (e) { /* private mode */ }
  $("auth").hidden = true;
  txt($("auth-msg"), "");
  start();
});
start();
})();
`

const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`

const policy = [
  "default-src 'none'",
  `script-src ${hash(script)}`,
  `style-src ${hash(style)}`,
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'"
].join("; ")

const icon =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='6' fill='%233b6fd8'/%3E%3C/svg%3E"

/** The whole page, served as `text/html; charset=utf-8` by `GET /ui`. */
export const page: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="${policy}">
<link rel="icon" href="${icon}">
<title>liege</title>
<style>${style}</style>
</head>
<body data-conn="connecting">${body}
<script>${script}</script>
</body>
</html>
`
