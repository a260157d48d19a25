/**
 * The route table's reading of a request (SPEC §8): a target's path and
 * query read without `new URL` mean what `new URL` reads in them, and the
 * lookup for the patterns without params answers as the matcher does.
 */
import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { parseTarget, type Route, table } from "../../src/http/routes.ts"

const viaUrl = (target: string) => {
  let url: URL
  try {
    url = new URL(target, "http://liege")
  } catch {
    return undefined
  }
  return { path: url.pathname, query: [...url.searchParams] }
}

const read = (target: string) => {
  const t = parseTarget(target)
  return t === undefined ? undefined : { path: t.path, query: [...new URLSearchParams(t.search)] }
}

/** Characters that matter to a URL parser, and some that do not. */
const pieces = ["/", "/", "a", "Z", "0", "-", "_", "~", ".", "..", "%", "%2e", "%2E", "%41", "%zz", "?", "#", "&", "=", "+", " ", "\\", "\"", "'", "<", ">", "|", "[", "]", "^", "`", "{", "}", ":", "@", "!", "$", "(", ")", "*", ",", ";", "é", "\u00ff", "\t"]

describe("a request target without new URL", () => {
  it("reads the path and query new URL reads, for any target", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 24 }), fc.boolean(), (parts, rooted) => {
        const target = (rooted ? "/" : "") + parts.join("")
        expect(read(target)).toEqual(viaUrl(target))
      }),
      { numRuns: 5000 }
    )
  })

  it("the usual targets", () => {
    for (const target of ["/", "/v1/jobs", "/v1/jobs?session=a%20b&x=1", "/v1/peek/a/b%2Fc", "/v1/jobs/12?", "//evil/v1/jobs", "/a/../v1/jobs", "/a/%2e%2E/b", "http://host/v1/jobs?session=s", "*", "//", "//:x/a"]) {
      expect(read(target), target).toEqual(viaUrl(target))
    }
  })
})

describe("the route table", () => {
  const handle = () => Effect.die("not run")
  const routes: ReadonlyArray<Route> = [
    { method: "GET", pattern: "/livez", name: "livez", handle },
    { method: "POST", pattern: "/v1/jobs", name: "jobs", handle },
    { method: "GET", pattern: "/v1/jobs/:id", name: "job", handle },
    { method: "GET", pattern: "/v1/peek/*", name: "peek", handle },
    { method: "POST", pattern: "/v1/peek", name: "peek_post", handle },
    { method: "GET", pattern: "/", name: "root", handle }
  ]
  const match = table(routes)

  it("answers the patterns' own paths as the matcher does: found, 405 with Allow, 404", () => {
    // a path with a trailing slash splits alike but is not looked up: the matcher's own answer
    for (const method of ["GET", "POST", "PUT", "HEAD"]) {
      for (const path of ["/livez", "/v1/jobs", "/v1/peek", "/"]) {
        const got = match(method, path)
        const want = match(method, `${path}/`.replace("//", "/").replace(/^\/$/, "//"))
        expect(got._tag, `${method} ${path}`).toBe(want._tag)
        if (got._tag === "Found" && want._tag === "Found") {
          expect([got.route.name, got.params, got.rest]).toEqual([want.route.name, want.params, want.rest])
        } else if (got._tag === "Refused" && want._tag === "Refused") {
          expect(got.name).toBe(want.name)
          expect(got.response.status).toBe(want.response.status)
          expect(got.response.headers).toEqual(want.response.headers)
        }
      }
    }
    expect(match("POST", "/v1/jobs")).toMatchObject({ _tag: "Found", route: { name: "jobs" } })
    expect(match("GET", "/v1/jobs")).toMatchObject({ _tag: "Refused", response: { status: 405, headers: { allow: "POST" } } })
    expect(match("POST", "/v1/peek")).toMatchObject({ _tag: "Found", route: { name: "peek_post" } })
    expect(match("GET", "/v1/peek")).toMatchObject({ _tag: "Found", route: { name: "peek" }, rest: [] })
    expect(match("GET", "/v1/jobs/a%2Fb")).toMatchObject({ _tag: "Found", params: { id: "a/b" } })
    expect(match("GET", "/v1/jobs/%zz")).toMatchObject({ _tag: "Refused", response: { status: 400 } })
  })

  it("what it gives a handler cannot be changed by one", () => {
    const found = match("POST", "/v1/jobs")
    if (found._tag !== "Found") throw new Error("not found")
    expect(Object.isFrozen(found.params) && Object.isFrozen(found.rest)).toBe(true)
  })
})
