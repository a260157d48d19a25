/**
 * `GET /ui` (SPEC §10): one self-contained page, its markup (html.ts), its
 * style (style.ts) and its script (client/) inline, that shows the status
 * document live: it reads `/v1/status` once, then follows
 * `/v1/status/stream`; on 401 it asks for the token; on a dropped stream it
 * keeps the last data, says "reconnecting…" and tries again with backoff.
 *
 * Text from the document (worker messages, reasons, session names) only ever
 * reaches the page as `textContent` or an attribute value, never as markup,
 * and the Content-Security-Policy lets only this page's own script and style
 * run (by the hashes of the exact text embedded here) and only this server
 * be fetched.
 */
import { createHash } from "node:crypto"
import { boot } from "./client/index.ts"
import { connect } from "./client/connect.ts"
import { dom } from "./client/dom.ts"
import { formats } from "./client/format.ts"
import { poolView } from "./client/pool.ts"
import { runnerView } from "./client/runner.ts"
import { serfView } from "./client/serf.ts"
import { statusView } from "./client/view.ts"
import { body } from "./html.ts"
import { style } from "./style.ts"

/** The parts `boot` takes, in its order: tsc checks each against its parameter. */
const parts: Parameters<typeof boot> = [formats, dom, poolView, serfView, runnerView, statusView, connect]

/**
 * The page's script: `boot` called on the parts, as the source text of the
 * functions this process runs (JavaScript, however it runs: see
 * client/index.ts).
 */
export const script: string = `"use strict";\n(${boot.toString()})(\n${parts.map((part) => `(${part.toString()})`).join(",\n")}\n);\n`

// the script and the style are inline: text that would end their element early would break the page
if (/<\/script|<!--/i.test(script)) throw new Error("the status page's script holds </script or <!--")
if (/<\/style/i.test(style)) throw new Error("the status page's style holds </style")

const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`

/** The page's Content-Security-Policy: its own script and style (by hash), fetches to this server only. */
export const policy: string = [
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
