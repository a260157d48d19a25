/**
 * Bad flags (SPEC §8): exit 2 with one line on stderr, nothing on stdout,
 * nothing spawned — one table per subcommand, one way to check it.
 */
import { describe, expect, it } from "vitest"
import { lines } from "./live.ts"
import { liege } from "./procs.ts"

export const badFlags = (cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]>, nothingMade?: () => void) =>
  describe("bad flags exit 2 with one line and spawn nothing", () => {
    for (const [what, args] of cases) {
      it(what, async () => {
        const r = await liege(args)
        expect(r.status).toBe(2)
        expect(lines(r.stderr)).toHaveLength(1)
        expect(r.stdout).toBe("")
        nothingMade?.()
      })
    }
  })
