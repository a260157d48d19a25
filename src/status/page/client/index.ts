/**
 * The status page's client: the script of `GET /ui`, in seven parts, each
 * one function that refers to nothing outside itself but its parameters,
 * browser globals and types (imported type-only, so nothing of Effect or of
 * Node comes along):
 *
 * 1. format.ts — numbers, sizes, durations and times as the page writes them;
 * 2. dom.ts — the page's elements and the pieces the views share;
 * 3. pool.ts, 4. serf.ts, 5. runner.ts — a document of each kind;
 * 6. view.ts — a document onto the page, the header's health;
 * 7. connect.ts — the connection: the first read, the stream, the token.
 *
 * The page (page/index.ts) embeds each function's source text —
 * `Function.prototype.toString` of the function as it runs on the server —
 * and calls `boot` on them: `(boot)(formats, dom, …)`. That text is
 * JavaScript however the server runs: Node's type stripping turns the types
 * into spaces, tsc (the library's `dist/`) and esbuild (the bundled CLI)
 * emit JavaScript. The parts are typed against the status document
 * (document.ts), so a change of its shape fails `tsc` here.
 */
import type { connect } from "./connect.ts"
import type { dom } from "./dom.ts"
import type { formats } from "./format.ts"
import type { poolView } from "./pool.ts"
import type { runnerView } from "./runner.ts"
import type { serfView } from "./serf.ts"
import type { statusView } from "./view.ts"

/** Wires the parts together and starts the connection. */
export const boot = (
  makeFormats: typeof formats,
  makeDom: typeof dom,
  makePool: typeof poolView,
  makeSerf: typeof serfView,
  makeRunner: typeof runnerView,
  makeView: typeof statusView,
  start: typeof connect
): void => {
  const f = makeFormats()
  const d = makeDom(f)
  const pool = makePool(f, d)
  start(f, d, makeView(f, d, pool, makeSerf(f, d), makeRunner(f, d, pool)))
}
