/**
 * `npm run build` (also `prepack`): the package's `dist/`.
 *
 * - the library (`liege`, `liege/worker`): ES modules, `.d.ts` and source
 *   maps, by `tsc -p tsconfig.build.json`;
 * - the `liege` command: one bundle split by subcommand (`dist/bin/`), by
 *   esbuild, so that `liege run` loads neither HTTP nor SQLite, nor
 *   `liege serf` the cluster's PostgreSQL client. The package has no
 *   dependency but its `effect` peer: what the command needs is in it.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"
import { bundleOptions } from "./bundle.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const dist = path.join(root, "dist")
fs.rmSync(dist, { recursive: true, force: true })
execFileSync(path.join(root, "node_modules/.bin/tsc"), ["-p", path.join(root, "tsconfig.build.json")], { stdio: "inherit" })
// tsc rewrites `./x.ts` to `./x.js` in the JavaScript only; the declarations get the same specifiers,
// so that any TypeScript version or resolution mode reads them
for (const file of fs.readdirSync(dist, { recursive: true, encoding: "utf8" })) {
  if (!file.endsWith(".d.ts")) continue
  const at = path.join(dist, file)
  fs.writeFileSync(at, fs.readFileSync(at, "utf8").replace(/(from |import\()"(\.{1,2}\/[^"]*)\.ts"/g, '$1"$2.js"'))
}
await build({
  entryPoints: [path.join(root, "src/cli/bin.ts")],
  entryNames: "liege",
  outdir: path.join(dist, "bin"),
  ...bundleOptions
})
fs.chmodSync(path.join(dist, "bin/liege.js"), 0o755)
