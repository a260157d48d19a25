/**
 * `npm run bench [-- name…]`: one JSON line per case on stdout.
 * Names: frames, counters, startup, serf, pool, trace, stream, change, cluster, http (default: all).
 */
const suites: Record<string, () => Promise<{ benches: ReadonlyArray<() => unknown> }>> = {
  frames: () => import("./frames.ts"),
  counters: () => import("./counters.ts"),
  startup: () => import("./startup.ts"),
  serf: () => import("./serf.ts"),
  pool: () => import("./pool.ts"),
  trace: () => import("./trace.ts"),
  stream: () => import("./stream.ts"),
  change: () => import("./change.ts"),
  cluster: () => import("./cluster.ts"),
  http: () => import("./http.ts")
}

const wanted = process.argv.slice(2)
for (const name of wanted.length > 0 ? wanted : Object.keys(suites)) {
  const load = suites[name]
  if (load === undefined) {
    process.stderr.write(`bench: unknown suite ${name}; have ${Object.keys(suites).join(", ")}\n`)
    process.exit(2)
  }
  for (const bench of (await load()).benches) {
    process.stdout.write(JSON.stringify(await bench()) + "\n")
  }
}
