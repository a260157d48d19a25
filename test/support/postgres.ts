/**
 * A throwaway PostgreSQL 15 server for one test file (or one measurement).
 *
 * - `initdb` into a fresh temporary folder (trust auth, superuser `liege`,
 *   UTF-8), owned by the `postgres` user when we are root: the server
 *   refuses to run as root, so every server command goes through
 *   `runuser -u postgres --` then;
 * - `pg_ctl start -w` on a free port on 127.0.0.1, its socket in that
 *   folder (`-k`), `fsync=off` unless asked for durable commits;
 * - `createDb()` makes a fresh database and returns its URL
 *   `postgres://liege@127.0.0.1:PORT/NAME`;
 * - options: `also` listens on one more address of this machine too (a
 *   partition test's database LAN, ./netns.ts), trusting its clients;
 *   `role` makes a login role that must give its password;
 * - `stop()` runs `pg_ctl stop -m fast -w` (the postmaster waits for its
 *   backends before it exits) and removes the folder.
 *
 * The server inherits our environment, `LIEGE_LEAK_TAG` included, so the
 * suite's leak guard sees any postgres process a file leaves behind.
 *
 * `usePostgres()` wires this to a vitest file: started in `beforeAll`,
 * stopped in `afterAll` (before the guard's own `afterAll`, which runs last).
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { freePort } from "./procs.ts"

export const PG_BIN = "/usr/lib/postgresql/15/bin"

export interface PostgresServer {
  readonly port: number
  /** The folder holding the data directory, the socket and the server log. */
  readonly dir: string
  /** Creates a fresh, empty database; resolves to its URL. */
  readonly createDb: () => Promise<string>
  /** Stops the server (fast shutdown) and removes its folder. Idempotent. */
  readonly stop: () => Promise<void>
}

export interface PostgresOptions {
  /** `fsync=on` (durable commits, for measurements); default off. */
  readonly fsync?: boolean
  /**
   * Also listen on this address of the machine, trusting clients from
   * `cidr` (a partition test's database LAN, test/support/netns.ts).
   */
  readonly also?: { readonly address: string; readonly cidr: string }
  /** A login role that must give its password (scram-sha-256) on 127.0.0.1; `liege` needs none. */
  readonly role?: { readonly name: string; readonly password: string }
}

const run = (file: string, args: ReadonlyArray<string>, asServer: boolean): Promise<string> => {
  const [cmd, argv] = asServer && process.getuid?.() === 0
    ? ["runuser", ["-u", "postgres", "--", file, ...args]]
    : [file, [...args]]
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${path.basename(file)} ${args.join(" ")} failed: ${stderr.trim() || error.message}`))
      else resolve(stdout)
    })
  })
}

const missing = (what: string) =>
  new Error(
    `PostgreSQL 15 is needed for these tests and ${what}. ` +
      "Install the Debian package `postgresql` (apt-get update && apt-get install -y postgresql)."
  )

const checkInstalled = (): void => {
  for (const tool of ["initdb", "pg_ctl", "postgres", "createdb", "psql"]) {
    if (!fs.existsSync(path.join(PG_BIN, tool))) throw missing(`${PG_BIN}/${tool} is missing`)
  }
  if (process.getuid?.() === 0) {
    try {
      postgresUser()
    } catch {
      throw missing("there is no `postgres` user to run the server as (we are root)")
    }
  }
}

/** The `postgres` user's uid and gid (throws if there is none). */
const postgresUser = (): { uid: number; gid: number } => {
  const line = fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"))
  if (line === undefined) throw new Error("no postgres user")
  const fields = line.split(":")
  return { uid: Number(fields[2]), gid: Number(fields[3]) }
}

export const startPostgres = async (options: PostgresOptions = {}): Promise<PostgresServer> => {
  checkInstalled()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "liege-pg-"))
  const data = path.join(dir, "data")
  const log = path.join(dir, "log")
  if (process.getuid?.() === 0) {
    const { gid, uid } = postgresUser()
    fs.chownSync(dir, uid, gid)
  }
  const remove = () => fs.rmSync(dir, { recursive: true, force: true })
  let started = false
  const stopServer = async () => {
    if (!started) return
    started = false
    await run(path.join(PG_BIN, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"], true)
  }
  try {
    await run(
      path.join(PG_BIN, "initdb"),
      ["-D", data, "-A", "trust", "-U", "liege", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
      true
    )
    const hba = path.join(data, "pg_hba.conf")
    if (options.role !== undefined) {
      // the first line that matches decides: this one comes before initdb's `trust` for everyone
      fs.writeFileSync(hba, `host all ${options.role.name} 127.0.0.1/32 scram-sha-256\n${fs.readFileSync(hba, "utf8")}`)
    }
    if (options.also !== undefined) fs.appendFileSync(hba, `host all all ${options.also.cidr} trust\n`)
    let port = 0
    for (let attempt = 1;; attempt++) {
      port = await freePort()
      const settings = [
        `-p ${port}`,
        `-k ${dir}`,
        `-c listen_addresses=127.0.0.1${options.also === undefined ? "" : `,${options.also.address}`}`,
        `-c fsync=${options.fsync === true ? "on" : "off"}`
      ].join(" ")
      try {
        await run(path.join(PG_BIN, "pg_ctl"), ["-D", data, "-l", log, "-w", "-t", "30", "-o", settings, "start"], true)
        started = true
        break
      } catch (e) {
        // the port may have been taken between our probe and the server's bind
        const text = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : ""
        if (attempt >= 3 || !/could not bind|in use/i.test(text)) {
          throw new Error(`${(e as Error).message}\nserver log:\n${text}`)
        }
      }
    }
    if (options.role !== undefined) {
      const { name, password } = options.role
      if (!/^[a-z_][a-z0-9_]*$/.test(name) || password.includes("'")) throw new Error(`startPostgres: role ${name}: a plain name and a password without quotes`)
      await run(path.join(PG_BIN, "psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "liege", "-d", "postgres", "-c", `CREATE ROLE ${name} LOGIN SUPERUSER PASSWORD '${password}'`], false)
    }
    let databases = 0
    const server: PostgresServer = {
      port,
      dir,
      createDb: async () => {
        const name = `t${++databases}_${Math.random().toString(36).slice(2, 8)}`
        await run(path.join(PG_BIN, "createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "liege", name], false)
        return `postgres://liege@127.0.0.1:${port}/${name}`
      },
      stop: async () => {
        try {
          await stopServer()
        } finally {
          remove()
        }
      }
    }
    return server
  } catch (e) {
    await stopServer().catch(() => {})
    remove()
    throw e
  }
}

/**
 * A server for the calling test file: `createDb()` is usable from inside
 * tests (after `beforeAll`).
 */
export const usePostgres = (options: PostgresOptions = {}): { readonly createDb: () => Promise<string>; readonly server: () => PostgresServer } => {
  let server: PostgresServer | undefined
  beforeAll(async () => {
    server = await startPostgres(options)
  })
  afterAll(async () => {
    await server?.stop()
    server = undefined
  })
  const current = () => {
    if (server === undefined) throw new Error("usePostgres: the server is not running (use it inside a test)")
    return server
  }
  return { createDb: () => current().createDb(), server: current }
}
