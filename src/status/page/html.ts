/**
 * The status page's markup (`GET /ui`): the header (health, uptime, the
 * connection), the token prompt, and one block per kind of document — a
 * runner, a pool, a serf — hidden until a document of its kind comes. The
 * client (page/client/) fills it in by id; it holds no data of its own.
 * Nothing in it carries a `style` attribute or an event handler: the page's
 * Content-Security-Policy admits neither.
 */

/** A sparkline's box: an SVG of 60 × 34 (a value per second), a base line and a path the client draws. */
const spark = (id: string, kind: "bars" | "line") =>
  `<div class="sparkbox"><svg class="spark" id="${id}" viewBox="0 0 60 34" preserveAspectRatio="none" aria-hidden="true"><line class="base" x1="0" y1="33.5" x2="60" y2="33.5"></line><path class="${kind}"></path></svg></div>`


/** The contents of `<body>`. */
export const body: string = `
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
<section><h2>Workers <span class="h2note" id="p-workers"></span></h2>
<div class="facts">
<div id="p-size"><span class="k">Size</span><span id="sz-moves"></span><span id="sz-last"></span></div>
<div id="p-reload"><span class="k">Reload</span><span id="rl-now"></span><span id="rl-total"></span><span id="rl-last"></span><span class="bad" id="rl-err"></span></div>
</div>
<div class="scroll"><table class="grid" id="slots">
<colgroup><col class="w4_5"><col class="w5_5"><col class="w5"><col class="w6"><col class="w18"><col class="w6"><col class="w8"><col class="w7"><col class="w7"><col></colgroup>
<thead><tr><th scope="col">Slot</th><th scope="col">Worker</th><th scope="col">Gen</th><th scope="col" class="n">PID</th><th scope="col">State</th><th scope="col" class="n">In flight</th><th scope="col" class="n">Served</th><th scope="col" class="n">RSS</th><th scope="col" class="n">Age</th><th scope="col">Last exit</th></tr></thead>
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

