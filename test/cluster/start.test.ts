/**
 * The start of a cluster runner (SPEC §9, §8): what it needs from outside
 * before it joins.
 *
 * - Runners started together on a fresh database all join: effect/cluster's
 *   tables are made one runner at a time (two runners creating the same
 *   table at once fail on PostgreSQL's catalogue).
 * - A runner that cannot start says why in one line on stderr (the
 *   database named without its password), exits 1, spawns nothing.
 * - The database from the environment, so that no password shows in `ps`:
 *   `--database`, else `LIEGE_DATABASE`, else PostgreSQL's `PG*` variables;
 *   a URL without a password takes `PGPASSWORD`; none at all: exit 2.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { settled, startRunner } from "../support/cluster.ts"
import { post } from "../support/http.ts"
import { usePostgres } from "../support/postgres.ts"
import { liege, node, root } from "../support/procs.ts"
import { inTemp } from "../support/serfs.ts"

const ROLE = { name: "keeper", password: "s3cret-in-env" }
const pg = usePostgres({ role: ROLE })
const kv = ["--", node, path.join(root, "examples/kv-serf.ts")]

/** The database's parts, from a URL `createDb` gave. */
const partsOf = (url: string) => {
  const u = new URL(url)
  return { host: u.hostname, port: u.port, database: u.pathname.slice(1) }
}

/** No database from the environment of the test run itself. */
const clean = { LIEGE_DATABASE: "", PGHOST: "", PGPORT: "", PGUSER: "", PGPASSWORD: "", PGDATABASE: "" }

describe("the start of a cluster runner", () => {
  it("runners started together on a fresh database all join (the cluster's tables are made one runner at a time)", async () => {
    await inTemp("liege-start-", async (dir) => {
      for (let trial = 0; trial < 3; trial++) {
        const db = await pg.createDb()
        const runners = await Promise.allSettled([0, 1, 2].map((i) => startRunner("serf", db, ["--data", path.join(dir, `t${trial}r${i}`), ...kv], { env: clean })))
        const failed = runners.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))
        expect(failed, `trial ${trial}`).toEqual([])
        const up = runners.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof startRunner>>>).value)
        await settled(up)
        expect((await post(`${up[0]!.url}/v1/serfs/s${trial}/events`, { op: "put", key: "k", value: trial })).status).toBe(200)
        for (const r of up) {
          r.proc.kill("SIGTERM")
          expect(await r.exited).toBe(0)
        }
      }
      // one at a time: no runner's CREATE TABLE ran into another's (the server logs it when one does)
      const log = fs.readFileSync(path.join(pg.server().dir, "log"), "utf8").split("\n")
      expect(log.filter((line) => /duplicate key value violates unique constraint|already exists/.test(line))).toEqual([])
    })
  }, 90_000)

  it("a runner that cannot reach its database exits 1 with one line naming it (no password) and what is wrong; nothing is spawned", async () => {
    await inTemp("liege-start-", async (dir) => {
      const marker = path.join(dir, "spawned")
      const cmd = ["--", "sh", "-c", `touch ${marker}`]
      const { host, port, database } = partsOf(await pg.createDb())
      const attempt = (url: string) => liege(["cluster", "serf", "--database", url, "--runner", "127.0.0.1:34999", "--listen", "127.0.0.1:0", "--data", dir, ...cmd], { env: clean })
      const cases: Array<[string, RegExp]> = [
        [`postgres://liege:hush@127.0.0.1:1/x`, /^liege: cannot reach the database postgres:\/\/liege:\*\*\*@127\.0\.0\.1:1\/x: connection refused/],
        [`postgres://liege@${host}:${port}/nowhere`, /^liege: cannot reach the database .*\/nowhere: database "nowhere" does not exist \(SQLSTATE 3D000\)$/],
        [`postgres://${ROLE.name}:wrong@${host}:${port}/${database}`, /^liege: cannot reach the database .*: password authentication failed for user "keeper" \(SQLSTATE 28P01\)$/]
      ]
      for (const [url, line] of cases) {
        const ran = await attempt(url)
        expect(ran.status, ran.stderr).toBe(1)
        const lines = ran.stderr.trim().split("\n")
        expect(lines, ran.stderr).toHaveLength(1)
        expect(lines[0]).toMatch(line)
        expect(lines[0]).not.toMatch(/hush|wrong|Cause|\bat \w/)
      }
      // its runner address taken: it says so, naming it
      const taken = net.createServer()
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
      try {
        const busy = (taken.address() as net.AddressInfo).port
        const ran = await liege(["cluster", "serf", "--database", `postgres://liege@${host}:${port}/${database}`, "--runner", `127.0.0.1:${busy}`, "--listen", "127.0.0.1:0", "--data", dir, ...cmd], { env: clean })
        expect(ran.status, ran.stderr).toBe(1)
        expect(ran.stderr.trim().split("\n"), ran.stderr).toEqual([`liege: cannot listen on the runner address 127.0.0.1:${busy}: address already in use`])
      } finally {
        await new Promise((resolve) => taken.close(resolve))
      }
      expect(fs.existsSync(marker)).toBe(false)
    })
  }, 60_000)

  it("the database from the environment: LIEGE_DATABASE, else PG*; --database before both; a password only in the environment, never in ps", async () => {
    await inTemp("liege-start-", async (dir) => {
      const url = await pg.createDb()
      const { host, port, database } = partsOf(url)
      const data = (name: string) => ["--data", path.join(dir, name), ...kv]
      const [fromLiege, fromPg, fromFlag] = await Promise.all([
        // LIEGE_DATABASE before PG* (whose port would refuse), its missing password from PGPASSWORD
        startRunner("serf", url, data("a"), {
          env: { ...clean, LIEGE_DATABASE: `postgres://${ROLE.name}@${host}:${port}/${database}`, PGPASSWORD: ROLE.password, PGHOST: host, PGPORT: "1" },
          noDatabaseFlag: true
        }),
        // PG* alone
        startRunner("serf", url, data("b"), {
          env: { ...clean, PGHOST: host, PGPORT: port, PGUSER: ROLE.name, PGPASSWORD: ROLE.password, PGDATABASE: database },
          noDatabaseFlag: true
        }),
        // --database before LIEGE_DATABASE (which would refuse)
        startRunner("serf", url, data("c"), { env: { ...clean, LIEGE_DATABASE: "postgres://liege@127.0.0.1:1/x" } })
      ])
      // one cluster: each answers for every serf
      await settled([fromLiege, fromPg, fromFlag])
      for (const [i, r] of [fromLiege, fromPg, fromFlag].entries()) {
        expect((await post(`${r.url}/v1/serfs/env${i}/events`, { op: "put", key: "k", value: i })).status).toBe(200)
      }
      // the password is in no command line
      for (const r of [fromLiege, fromPg]) {
        expect(fs.readFileSync(`/proc/${r.proc.pid}/cmdline`, "latin1")).not.toContain(ROLE.password)
      }
      for (const r of [fromLiege, fromPg, fromFlag]) {
        r.proc.kill("SIGTERM")
        expect(await r.exited).toBe(0)
      }
      // no database anywhere: exit 2, one line, before anything
      const none = await liege(["cluster", "serf", "--runner", "127.0.0.1:34999", "--listen", "127.0.0.1:0", "--", "true"], { env: clean })
      expect(none.status).toBe(2)
      expect(none.stderr.trim().split("\n")).toHaveLength(1)
      expect(none.stderr).toMatch(/^liege: which database\? give --database URL, or LIEGE_DATABASE=URL, or PGHOST/)
      expect(none.stdout).toBe("")
    })
  }, 60_000)
})
