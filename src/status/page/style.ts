/**
 * The status page's style sheet (`GET /ui`), inlined in the page as its one
 * `<style>` and admitted by the page's Content-Security-Policy by its hash
 * (page/index.ts). Colours are variables, light and dark; every state a row
 * or the health can be in has its class (`s-STATE`, `h-ok`, `h-wait`,
 * `h-bad`).
 */
export const style: string = `
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
col.w4_5{width:4.5em}col.w5{width:5em}col.w5_5{width:5.5em}col.w6{width:6em}col.w7{width:7em}col.w9{width:9em}col.w17{width:17em}col.w8{width:8em}col.w14{width:14em}col.w18{width:18em}
table.grid{width:100%;border-collapse:collapse;table-layout:fixed}
.grid th{font-size:12px;font-weight:500;color:var(--muted);text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.grid td{padding:0 10px;height:36px;border-bottom:1px solid var(--line);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.grid tr:last-child td{border-bottom:0}
.grid th.n,.grid td.n{text-align:right}
.grid td .detail{color:var(--muted);margin-left:8px;font-size:12.5px;font-variant-numeric:tabular-nums}
#slots{min-width:1000px}
.facts{font-size:12.5px;color:var(--muted);margin:-2px 0 8px;font-variant-numeric:tabular-nums}
.facts div{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;line-height:20px}
.facts .k{display:inline-block;width:4.5em;color:var(--faint)}
.facts span:not(.k):not(:empty)~span:not(:empty)::before{content:"·";margin:0 .3em;color:var(--muted)}
.facts .on{color:var(--boot)}.facts .bad{color:var(--bad)}
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
