/**
 * Where a cluster runner's PostgreSQL is (SPEC §9), from the command line
 * or the environment, so that a password need not show in `ps`:
 *
 * 1. `--database URL`;
 * 2. else `LIEGE_DATABASE` (a URL);
 * 3. else PostgreSQL's own variables, as libpq reads them: `PGHOST`
 *    (default `localhost`), `PGPORT` (5432), `PGUSER` (the login name),
 *    `PGPASSWORD`, `PGDATABASE` (the user name) — used when any of them is
 *    set.
 *
 * A URL without a password takes `PGPASSWORD` when it is set, and one
 * without a user `PGUSER`, else the login name (as libpq does), so
 * `--database postgres://liege@db/liege` with the password in the
 * environment works too. Nothing given: a usage error (exit 2). Messages
 * name the database without its password.
 */
import * as os from "node:os"
import type { PgClient } from "@effect/sql-pg"
import { Redacted } from "effect"
import { UsageError } from "./errors.ts"

export interface Database {
  /** What to give the PostgreSQL client. */
  readonly config: PgClient.PgClientConfig
  /** The database as messages name it: a URL without its password, and where it came from. */
  readonly shown: string
}

type Env = Readonly<Record<string, string | undefined>>

const PG_VARS = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"] as const

/** `url` without its password (in the authority or as a `password=` parameter). */
export const redact = (url: string): string =>
  url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@").replace(/([?&]password=)[^&]*/g, "$1***")

const fromUrl = (url: string, where: string, env: Env): Database | UsageError => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // (not echoed: what is not a URL may hold a password anywhere)
    return new UsageError({ message: `${where}: not a URL (postgres://user@host:port/database)` })
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    return new UsageError({ message: `${where}: the URL is ${parsed.protocol}//…, not postgres://user@host:port/database` })
  }
  const password = env["PGPASSWORD"] || undefined
  const hasPassword = parsed.password !== "" || parsed.searchParams.has("password")
  const username = parsed.username === "" && !parsed.searchParams.has("user") ? userOf(env) : undefined
  const config: PgClient.PgClientConfig = {
    url: Redacted.make(url),
    ...(!hasPassword && password !== undefined ? { password: Redacted.make(password) } : {}),
    ...(username === undefined ? {} : { username })
  }
  const from = [
    ...(config.password === undefined ? [] : ["the password from PGPASSWORD"]),
    ...(username === undefined ? [] : [`the user ${username} from ${env["PGUSER"] ? "PGUSER" : "the login name"}`])
  ]
  return { config, shown: from.length === 0 ? redact(url) : `${redact(url)} (${from.join(", ")})` }
}

/** `PGUSER`, else the login name (libpq's default user). */
const userOf = (env: Env): string | undefined => {
  if (env["PGUSER"]) return env["PGUSER"]
  try {
    return os.userInfo().username
  } catch {
    return env["USER"] || env["LOGNAME"] || undefined
  }
}

/** The database of a runner: the flag, else `LIEGE_DATABASE`, else the `PG*` variables. */
export const resolveDatabase = (flag: string | undefined, env: Env = process.env): Database | UsageError => {
  if (flag !== undefined) return fromUrl(flag, "--database", env)
  const liege = env["LIEGE_DATABASE"]
  if (liege !== undefined && liege !== "") return fromUrl(liege, "LIEGE_DATABASE", env)
  if (PG_VARS.every((name) => (env[name] ?? "") === "")) {
    return new UsageError({
      message: "which database? give --database URL, or LIEGE_DATABASE=URL, or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE"
    })
  }
  const host = env["PGHOST"] || "localhost"
  const portText = env["PGPORT"] || "5432"
  const port = Number(portText)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return new UsageError({ message: `PGPORT: not a port: ${JSON.stringify(portText)}` })
  }
  const username = userOf(env)
  if (username === undefined) return new UsageError({ message: "PGUSER: which user? (PGUSER is not set and the login name is unknown)" })
  const database = env["PGDATABASE"] || username
  const password = env["PGPASSWORD"]
  const config: PgClient.PgClientConfig = {
    host,
    port,
    username,
    database,
    ...(password === undefined || password === "" ? {} : { password: Redacted.make(password) })
  }
  // (a host that is a folder is a Unix socket's, PostgreSQL's own convention: the client knows it)
  const at = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`
  return { config, shown: `postgres://${username}@${at}/${database} (from PG* variables)` }
}
