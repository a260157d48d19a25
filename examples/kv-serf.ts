/**
 * A key-value serf (the example `npm start` runs): a Map of JSON values,
 * with real snapshots in the pier folder. The Python twin is
 * `examples/python/kv_serf.py`; both pass `test/serf/conformance.test.ts`.
 *
 * Events:   {"op":"put","key":k,"value":v}   effects [{"key":k,"old":previous or null}]
 *           {"op":"del","key":k}             effects [{"key":k,"old":previous or null}]
 *           {"op":"incr","key":k,"by":n}     effects [{"key":k,"value":new value}]
 *           anything else is refused (work-bail)
 *           {"op":"crash"}                   refused, but swapped for {"op":"crashed"} (counts crashes)
 *           {"op":"trace"}                   changes nothing; effects [{"trace": the writ's W3C
 *                                            traceparent, or null}] (never part of the state: a
 *                                            replayed event has no trace)
 * Peeks:    ["get",k] → value or null;  ["size"] → n;  ["keys"] → sorted keys
 * Mug:      XOR over entries of FNV-1a-32(canonical JSON of [k, v]) — the same
 *           state gives the same mug whatever the history, in either language.
 * Snapshot: $LIEGE_PIER/kv-snapshot.json, written atomically on `save`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { runSerf } from "../src/worker/serf.ts"

/** An entry: its value and the hash it adds to the mug. */
interface Entry {
  value: unknown
  hash: number
}

const entries = new Map<string, Entry>()
let mug = 0

/** JSON with object keys sorted, so that both languages hash the same bytes. */
const canonical = (v: unknown): string => {
  if (typeof v !== "object" || v === null) return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`
  }
  return JSON.stringify(v)
}

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** FNV-1a (32 bit) from `h` on over the UTF-8 bytes of `text`, encoded on the fly (no buffer). */
const fnv1a = (text: string, h = FNV_OFFSET): number => {
  const byte = (b: number) => {
    h = Math.imul(h ^ b, FNV_PRIME)
  }
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i)
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME)
      continue
    }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1)
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
      }
    }
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd // a lone surrogate is U+FFFD in UTF-8, as Buffer.from writes it
    if (c < 0x800) {
      byte(0xc0 | (c >> 6))
    } else if (c < 0x10000) {
      byte(0xe0 | (c >> 12))
      byte(0x80 | ((c >> 6) & 0x3f))
    } else {
      byte(0xf0 | (c >> 18))
      byte(0x80 | ((c >> 12) & 0x3f))
      byte(0x80 | ((c >> 6) & 0x3f))
    }
    byte(0x80 | (c & 0x3f))
  }
  return h
}

/**
 * FNV-1a from `h` on over `JSON.stringify(s)`: a string of printable ASCII
 * with nothing to escape is hashed as it stands between its quotes (the same
 * bytes, without writing them); any other goes through `JSON.stringify`.
 */
const fnv1aJsonString = (s: string, h: number): number => {
  let g = Math.imul(h ^ 0x22, FNV_PRIME)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return fnv1a(JSON.stringify(s), h)
    g = Math.imul(g ^ c, FNV_PRIME)
  }
  return Math.imul(g ^ 0x22, FNV_PRIME)
}

/** The hash of one entry: FNV-1a of the canonical JSON of [key, value], `[${JSON.stringify(key)},${canonical(value)}]`. */
const entryHash = (key: string, value: unknown): number => {
  let h = Math.imul(FNV_OFFSET ^ 0x5b, FNV_PRIME) // [
  h = fnv1aJsonString(key, h)
  h = Math.imul(h ^ 0x2c, FNV_PRIME) // ,
  h = typeof value === "string" ? fnv1aJsonString(value, h) : fnv1a(canonical(value), h)
  return Math.imul(h ^ 0x5d, FNV_PRIME) >>> 0 // ]
}

/** Sets `key` to `value` (undefined removes it), keeping the mug: each entry's hash is kept, so that a change hashes only the new value. */
const set = (key: string, value: unknown | undefined, entry = entries.get(key)) => {
  if (value === undefined) {
    if (entry === undefined) return
    entries.delete(key)
    mug = (mug ^ entry.hash) >>> 0
    return
  }
  const h = entryHash(key, value)
  if (entry === undefined) {
    entries.set(key, { value, hash: h })
    mug = (mug ^ h) >>> 0
  } else {
    mug = (mug ^ entry.hash ^ h) >>> 0
    entry.value = value
    entry.hash = h
  }
}

const valueOf = (key: string): unknown => entries.get(key)?.value

const keyOf = (ev: Record<string, unknown>): string => {
  if (typeof ev["key"] !== "string") throw new TypeError("the event needs a string key")
  return ev["key"]
}

const snapshotFile = (pier: string) => path.join(pier, "kv-snapshot.json")

runSerf({
  load: (pier) => {
    if (pier === undefined || !fs.existsSync(snapshotFile(pier))) return undefined
    const snap = JSON.parse(fs.readFileSync(snapshotFile(pier), "utf8")) as {
      eve: number
      mug: number
      entries: Array<[string, unknown]>
    }
    for (const [k, v] of snap.entries) set(k, v)
    if (mug !== snap.mug) throw new Error(`snapshot ${snapshotFile(pier)} is corrupt: mug ${mug} ≠ ${snap.mug}`)
    return { eve: snap.eve, mug }
  },
  poke: (raw, ctx) => {
    const ev = (raw ?? {}) as Record<string, unknown>
    switch (ev["op"]) {
      case "put": {
        const key = keyOf(ev)
        if (!("value" in ev)) throw new TypeError("put needs a value")
        const entry = entries.get(key)
        const old = entry === undefined ? null : entry.value
        set(key, ev["value"], entry)
        return [{ key, old }]
      }
      case "del": {
        const key = keyOf(ev)
        const entry = entries.get(key)
        const old = entry === undefined ? null : entry.value
        set(key, undefined, entry)
        return [{ key, old }]
      }
      case "incr": {
        const key = keyOf(ev)
        const by = ev["by"] ?? 1
        const old = valueOf(key) ?? 0
        if (typeof by !== "number" || typeof old !== "number") throw new TypeError("incr needs numbers")
        set(key, old + by)
        return [{ key, value: old + by }]
      }
      case "crashed": {
        const n = valueOf("crashes")
        set("crashes", (typeof n === "number" ? n : 0) + 1)
        return [{ key: "crashes", value: valueOf("crashes") }]
      }
      case "crash":
        throw new Error("crash on purpose")
      case "trace":
        return [{ trace: ctx.trace ?? null }]
      default:
        throw new TypeError(`unknown op ${JSON.stringify(ev["op"])}`)
    }
  },
  swap: (raw) => (raw as { op?: unknown } | null)?.op === "crash" ? { op: "crashed" } : undefined,
  mug: () => mug,
  peek: (p) => {
    if (p[0] === "get" && p.length === 2) return valueOf(p[1]!) ?? null
    if (p[0] === "size" && p.length === 1) return entries.size
    if (p[0] === "keys" && p.length === 1) return [...entries.keys()].sort()
    return null
  },
  save: (eve, m, pier) => {
    if (pier === undefined) return
    const file = snapshotFile(pier)
    const tmp = `${file}.tmp`
    const fd = fs.openSync(tmp, "w")
    fs.writeSync(fd, JSON.stringify({ eve, mug: m, entries: Array.from(entries, ([k, e]) => [k, e.value]) }))
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fs.renameSync(tmp, file)
    const dir = fs.openSync(pier, "r")
    fs.fsyncSync(dir)
    fs.closeSync(dir)
  },
  pack: () => {
    const copy = [...entries]
    entries.clear()
    for (const [k, v] of copy) entries.set(k, v)
  }
})
