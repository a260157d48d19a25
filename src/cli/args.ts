/**
 * The command line's grammar: each subcommand declares its flags as data,
 * and one parser turns argv into typed values or a one-line usage error
 * (SPEC §8: bad flags exit 2 with one clear line, before anything is
 * spawned). It loads nothing: `liege run` starts in tens of milliseconds.
 *
 *   liege [--log-format F] SUBCOMMAND [flags] [--] CMD ARGS…
 *
 * Flags are `--name value` or `--name=value`; `--` ends them, and so does
 * the first word that is not a flag (the command and its own arguments).
 */
import { UsageError } from "./errors.ts"

/** `500ms`, `5s`, `2m`, `1h`: the largest unit that writes `ms` whole. */
export const formatDuration = (ms: number): string =>
  ms === 0 ? "0" : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`

/** Milliseconds for `500ms`, `5s`, `2m`, `1h`; undefined when the text is not a duration. */
export const parseDuration = (text: string): number | undefined => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim())
  if (m === null) return undefined
  const unit = m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : m[2] === "m" ? 60_000 : 3_600_000
  return Math.round(Number(m[1]) * unit)
}

export interface Listen {
  readonly host: string
  readonly port: number
}

/** `HOST:PORT` (IPv6 in brackets: `[::1]:7070`); undefined when it is not one. */
export const parseListen = (text: string): Listen | undefined => {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim())
  if (m === null) return undefined
  const port = Number(m[3])
  if (port > 65535) return undefined
  return { host: m[1] ?? m[2]!, port }
}

interface FlagBase {
  readonly description: string
  /** Must be given (a flag with no default that makes sense). */
  readonly required?: true
  /** The value's placeholder in help (`D`, `N`, …). */
  readonly meta?: string
  /** Read from this environment variable when the flag is not given (a secret kept out of `ps`). */
  readonly env?: string
  /** How help shows the default, when its value alone would not say it (`the CPU count`). */
  readonly shownDefault?: string
}

/** A flag's kind, its default, and how its text becomes a value. */
export type Flag =
  | FlagBase & { readonly kind: "duration"; readonly default?: number }
  | FlagBase & { readonly kind: "count"; readonly default: number; readonly min: number }
  /** A number of workers, or a range `MIN..MAX` (kept as that text). */
  | FlagBase & { readonly kind: "workers"; readonly default: number }
  | FlagBase & { readonly kind: "string"; readonly default?: string }
  | FlagBase & { readonly kind: "choice"; readonly choices: ReadonlyArray<string>; readonly default?: string }
  | FlagBase & { readonly kind: "listen"; readonly default?: string }

type Value<F extends Flag> = F extends { readonly kind: "duration" } ? number
  : F extends { readonly kind: "count" } ? number
  : F extends { readonly kind: "workers" } ? number | string
  : F extends { readonly kind: "listen" } ? Listen
  : F extends { readonly kind: "choice"; readonly choices: ReadonlyArray<infer C> } ? C
  : string

type Present = { readonly default: unknown } | { readonly required: true }

/** The parsed flags of a subcommand: required flags and flags with a default are always there, the others may be absent. */
export type Values<Flags extends Record<string, Flag>> =
  & { readonly [K in keyof Flags as Flags[K] extends Present ? K : never]: Value<Flags[K]> }
  & { readonly [K in keyof Flags as Flags[K] extends Present ? never : K]?: Value<Flags[K]> }

export interface Subcommand<Flags extends Record<string, Flag> = Record<string, Flag>> {
  readonly name: string
  readonly usage: string
  readonly description: string
  readonly flags: Flags
  /** Whether `-- CMD ARGS…` is required. */
  readonly command: boolean
}

/** `maxInFlight` ⇄ `--max-in-flight`. */
export const flagName = (key: string): string => "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())

const convert = (flag: Flag, name: string, text: string): unknown => {
  switch (flag.kind) {
    case "duration": {
      const ms = parseDuration(text)
      if (ms === undefined) throw new UsageError({ message: `${name}: ${JSON.stringify(text)} is not a duration like 500ms, 5s, 2m` })
      return ms
    }
    case "count": {
      if (!/^-?\d+$/.test(text.trim())) throw new UsageError({ message: `${name}: ${JSON.stringify(text)} is not a whole number` })
      const n = Number(text)
      if (!Number.isSafeInteger(n)) throw new UsageError({ message: `${name}: ${text} is too large` })
      if (n < flag.min) throw new UsageError({ message: `${name}: ${n} is below ${flag.min}` })
      return n
    }
    case "workers": {
      const t = text.trim()
      if (/^\d+$/.test(t)) {
        const n = Number(t)
        if (n < 1 || !Number.isSafeInteger(n)) throw new UsageError({ message: `${name}: ${t} is not a number of workers (at least 1)` })
        return n
      }
      const m = /^(\d+)\.\.(\d+)$/.exec(t)
      if (m === null) throw new UsageError({ message: `${name}: ${JSON.stringify(text)} is not a number of workers or a range MIN..MAX, like 2..8` })
      const min = Number(m[1])
      const max = Number(m[2])
      if (min < 1 || min > max || !Number.isSafeInteger(max)) throw new UsageError({ message: `${name}: ${t} needs 1 <= MIN <= MAX` })
      return t
    }
    case "choice":
      if (!flag.choices.includes(text)) {
        throw new UsageError({ message: `${name}: ${JSON.stringify(text)} is not one of ${flag.choices.join(", ")}` })
      }
      return text
    case "listen": {
      const listen = parseListen(text)
      if (listen === undefined) {
        throw new UsageError({ message: `${name}: ${JSON.stringify(text)} is not HOST:PORT, like 127.0.0.1:7070 (port 0: any free port)` })
      }
      return listen
    }
    case "string":
      return text
  }
}

export interface Parsed<Flags extends Record<string, Flag>> {
  readonly flags: Values<Flags>
  /** The command and its arguments (empty when the subcommand takes none). */
  readonly command: ReadonlyArray<string>
  readonly help: boolean
}

/** Parses a subcommand's argv (after its name); throws `UsageError` (exit 2, one line). */
export const parse = <Flags extends Record<string, Flag>>(
  sub: Subcommand<Flags>,
  argv: ReadonlyArray<string>
): Parsed<Flags> => {
  const byName = new Map<string, [string, Flag]>()
  for (const [key, flag] of Object.entries(sub.flags)) byName.set(flagName(key), [key, flag])
  const values: Record<string, unknown> = {}
  let i = 0
  let help = false
  for (; i < argv.length; i++) {
    const word = argv[i]!
    if (word === "--") {
      i++
      break
    }
    if (!word.startsWith("-") || word === "-") break
    if (word === "--help" || word === "-h") {
      help = true
      continue
    }
    const eq = word.indexOf("=")
    const name = eq === -1 ? word : word.slice(0, eq)
    const found = byName.get(name)
    if (found === undefined) throw new UsageError({ message: `unknown flag ${name} for liege ${sub.name} (see liege ${sub.name} --help)` })
    const [key, flag] = found
    let text: string
    if (eq !== -1) text = word.slice(eq + 1)
    else {
      const next = argv[i + 1]
      if (next === undefined || next === "--") throw new UsageError({ message: `${name} needs a value` })
      text = next
      i++
    }
    if (key in values) throw new UsageError({ message: `${name} is given twice` })
    values[key] = convert(flag, name, text)
  }
  const command = argv.slice(i)
  if (help) return { flags: values as Values<Flags>, command, help }
  for (const [key, flag] of Object.entries(sub.flags)) {
    const fromEnv = flag.env === undefined ? undefined : process.env[flag.env]
    if (key in values || fromEnv === undefined || fromEnv === "") continue
    values[key] = convert(flag, `$${flag.env}`, fromEnv)
  }
  for (const [key, flag] of Object.entries(sub.flags)) {
    if (key in values || flag.default === undefined) continue
    values[key] = flag.kind === "listen" ? convert(flag, flagName(key), flag.default) : flag.default
  }
  for (const [key, flag] of Object.entries(sub.flags)) {
    if (flag.required === true && !(key in values)) throw new UsageError({ message: `${sub.name} needs ${flagName(key)} (see liege ${sub.name} --help)` })
  }
  if (sub.command && command.length === 0) {
    throw new UsageError({ message: `${sub.name} needs a command to run: ${sub.usage}` })
  }
  if (!sub.command && command.length > 0) {
    throw new UsageError({ message: `${sub.name} takes no command (got ${JSON.stringify(command[0])})` })
  }
  return { flags: values as Values<Flags>, command, help }
}

const placeholder = (flag: Flag): string =>
  flag.meta ?? (flag.kind === "duration" ? "D" : flag.kind === "count" ? "N" : flag.kind === "workers" ? "N|MIN..MAX" : flag.kind === "listen" ? "HOST:PORT"
    : flag.kind === "choice" ? flag.choices.join("|") : "VALUE")

/** The help text of a subcommand. */
export const helpText = <Flags extends Record<string, Flag>>(sub: Subcommand<Flags>): string => {
  const rows = Object.entries<Flag>(sub.flags).map(([key, flag]) => {
    const left = `  ${flagName(key)} ${placeholder(flag)}`
    const fallback = flag.shownDefault !== undefined
      ? ` (default: ${flag.shownDefault})`
      : flag.default === undefined ? ""
      : ` (default ${flag.kind === "duration" ? formatDuration(flag.default) : String(flag.default)})`
    const env = flag.env === undefined ? "" : ` (or $${flag.env})`
    return [left, flag.description + env + fallback] as const
  })
  const width = Math.max(...rows.map(([l]) => l.length)) + 2
  return [
    `${sub.description}`,
    "",
    `usage: ${sub.usage}`,
    "",
    "flags:",
    ...rows.map(([l, r]) => l.padEnd(width) + r),
    ""
  ].join("\n")
}
