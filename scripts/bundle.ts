/**
 * How esbuild bundles the `liege` command (scripts/build.ts), apart from
 * what it bundles and where to: also used by the test that checks the status
 * page as the bundle serves it (test/status/page-forms.test.ts).
 */
import type { BuildOptions } from "esbuild"

export const bundleOptions = {
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  minify: true,
  legalComments: "linked",
  logLevel: "warning"
} as const satisfies BuildOptions
