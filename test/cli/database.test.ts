/**
 * Where a cluster runner's database comes from (src/cli/database.ts): the
 * flag, else `LIEGE_DATABASE`, else the `PG*` variables; what messages show
 * of it (never a password). The runners themselves are tested with them in
 * test/cluster/start.test.ts.
 */
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { type Database, redact, resolveDatabase } from "../../src/cli/database.ts"
import { UsageError } from "../../src/cli/errors.ts"

const ok = (r: Database | UsageError): Database => {
  if (r instanceof UsageError) throw new Error(r.message)
  return r
}
const secret = (r: Database, key: "url" | "password") => {
  const v = r.config[key]
  return v === undefined ? undefined : Redacted.value(v as Redacted.Redacted<string>)
}

describe("the database of a cluster runner", () => {
  it("--database, else LIEGE_DATABASE, else PG*; none: a usage error naming all three", () => {
    const pg = { PGHOST: "db", PGPORT: "6543", PGUSER: "u", PGPASSWORD: "p", PGDATABASE: "d" }
    expect(secret(ok(resolveDatabase("postgres://f@h/x", { LIEGE_DATABASE: "postgres://l@h/y", ...pg })), "url")).toBe("postgres://f@h/x")
    expect(secret(ok(resolveDatabase(undefined, { LIEGE_DATABASE: "postgres://l@h/y", ...pg })), "url")).toBe("postgres://l@h/y")
    const fromPg = ok(resolveDatabase(undefined, pg))
    expect(fromPg.config).toMatchObject({ host: "db", port: 6543, username: "u", database: "d" })
    expect(secret(fromPg, "password")).toBe("p")
    expect(fromPg.shown).toBe("postgres://u@db:6543/d (from PG* variables)")
    // libpq's defaults for what is not set
    expect(ok(resolveDatabase(undefined, { PGUSER: "u" })).config).toMatchObject({ host: "localhost", port: 5432, database: "u" })
    const none = resolveDatabase(undefined, { LIEGE_DATABASE: "", PGHOST: "" })
    expect(none).toBeInstanceOf(UsageError)
    expect((none as UsageError).message).toMatch(/--database URL, or LIEGE_DATABASE=URL, or PGHOST/)
    expect(resolveDatabase(undefined, { PGPORT: "x" })).toBeInstanceOf(UsageError)
    expect(resolveDatabase("http://h/x", {})).toBeInstanceOf(UsageError)
  })

  it("a URL without a password takes PGPASSWORD, one without a user PGUSER; what they give is not overridden", () => {
    const filled = ok(resolveDatabase("postgres://h:5/x", { PGPASSWORD: "p", PGUSER: "u" }))
    expect(secret(filled, "password")).toBe("p")
    expect(filled.config.username).toBe("u")
    expect(filled.shown).toBe("postgres://h:5/x (the password from PGPASSWORD, the user u from PGUSER)")
    for (const url of ["postgres://a:b@h/x", "postgres://a@h/x?password=b&user=a"]) {
      const given = ok(resolveDatabase(url, { PGPASSWORD: "p", PGUSER: "u" }))
      expect(given.config.password).toBeUndefined()
      expect(given.config.username).toBeUndefined()
    }
  })

  it("messages never show a password", () => {
    expect(redact("postgres://a:s3cret@h:5/x")).toBe("postgres://a:***@h:5/x")
    expect(redact("postgres://a@h/x?sslmode=disable&password=s3cret&x=1")).toBe("postgres://a@h/x?sslmode=disable&password=***&x=1")
    expect(ok(resolveDatabase("postgres://a:s3cret@h/x", {})).shown).not.toContain("s3cret")
    expect((resolveDatabase("notaurl:s3cret@", {}) as UsageError).message).not.toContain("s3cret")
  })
})
