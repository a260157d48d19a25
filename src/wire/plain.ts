/**
 * Plain data (SPEC §1, "values travel exactly or not at all"): the values
 * both codecs carry exactly are the JSON data model — null, booleans, finite
 * numbers, strings of Unicode text, arrays and plain objects. Anything else
 * is refused where it is encoded (`EncodeFailure`, saying where and why) or
 * where it arrives (`DecodeFailure`), never reshaped on its way.
 *
 * An object property whose value is `undefined` is left out, as JSON does;
 * everywhere else `undefined` is refused.
 *
 * This module does not load Effect: the worker SDK uses it too.
 */

declare global {
  interface String {
    /** ES2024: false when the string holds a lone surrogate. */
    isWellFormed(): boolean
  }
}

/** Thrown by a codec's `decode` when a payload does not decode to one exact value. */
export class DecodeFailure {
  readonly reason: string
  readonly payload: Uint8Array
  constructor(reason: string, payload: Uint8Array) {
    this.reason = reason
    this.payload = payload
  }
}

/** Thrown by a codec's `frame` for a value that cannot travel exactly; nothing was encoded. */
export class EncodeFailure extends Error {
  readonly _tag = "EncodeFailure"
  /** What is wrong with the value, without where. */
  readonly reason: string
  /** Where in the message: property names and array indexes from the top. */
  readonly path: ReadonlyArray<string | number>
  constructor(reason: string, path: ReadonlyArray<string | number>) {
    super(located(reason, path))
    this.name = "EncodeFailure"
    this.reason = reason
    this.path = path
  }
}

const located = (reason: string, path: ReadonlyArray<string | number>): string =>
  path.length === 0 ? reason : `at ${renderPath(path)}: ${reason}`

const identifier = /^[A-Za-z_$][\w$]*$/

const renderPath = (path: ReadonlyArray<string | number>): string => {
  let out = ""
  for (const step of path) {
    if (typeof step === "number") out += `[${step}]`
    else if (identifier.test(step)) out += out === "" ? step : `.${step}`
    else out += `[${JSON.stringify(step)}]`
  }
  return out
}

/**
 * A refusal on its way out of a nested value: each container it passes adds
 * its step, and the codec turns it into an `EncodeFailure` at the top.
 */
export class Refusal {
  readonly reason: string
  readonly path: Array<string | number> = []
  constructor(reason: string) {
    this.reason = reason
  }
}

/** Adds `step` to a refusal passing through a container; anything else passes unchanged. */
export const through = (e: unknown, step: string | number): unknown => {
  if (e instanceof Refusal) e.path.unshift(step)
  return e
}

/** A refusal as one line: where, then why. */
export const refusalText = (r: Refusal): string => located(r.reason, r.path)

/** The failure for what escaped an encoder: a refusal, or a stack overflow (a cycle, or too deep). */
export const encodeFailure = (e: unknown): unknown => {
  if (e instanceof Refusal) return new EncodeFailure(e.reason, e.path)
  if (isStackOverflow(e)) return new EncodeFailure("the value is cyclic or nested too deeply", [])
  return e
}

export const isStackOverflow = (e: unknown): boolean =>
  e instanceof RangeError && e.message.includes("call stack")

const hex4 = (unit: number) => `\\u${unit.toString(16).padStart(4, "0")}`

/** The first lone surrogate of a string that is not well formed, as an escape. */
export const loneSurrogate = (s: string): string => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++
        continue
      }
    }
    return hex4(c)
  }
  return "?"
}

export const notText = (s: string): Refusal =>
  new Refusal(`a string holds a lone surrogate (${loneSurrogate(s)}): it is not Unicode text`)

/** Why `value` (not null, boolean, string, array or plain object) cannot travel. */
export const refusalOf = (value: unknown): Refusal => {
  switch (typeof value) {
    case "number":
      return new Refusal(`${value} is not a finite number`)
    case "bigint":
      return new Refusal(`a BigInt (${value}n) is not a JSON number; send a safe integer or a string`)
    case "undefined":
      return new Refusal("undefined is not a JSON value (only an object property may be undefined: it is left out)")
    case "function":
      return new Refusal("a function cannot travel")
    case "symbol":
      return new Refusal("a symbol cannot travel")
  }
  if (value instanceof Uint8Array) {
    return new Refusal(`a ${value.constructor.name} cannot travel: JSON callers have no bytes (send text, e.g. base64)`)
  }
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  const what = typeof name === "string" && name !== "" ? `a ${name}` : "an object with a prototype"
  return new Refusal(`${what} is not plain data (only null, booleans, finite numbers, strings, arrays and plain objects travel)`)
}

/** True for an object whose prototype is Object.prototype or null. */
export const isPlainObject = (value: object): boolean => {
  const c = (value as { constructor?: unknown }).constructor
  if (c === Object) return Object.getPrototypeOf(value) === Object.prototype
  const proto = Object.getPrototypeOf(value)
  return proto === null || proto === Object.prototype
}

/**
 * Throws a `Refusal` for the first part of `value` that is not plain data
 * (what JSON.stringify would drop, turn into null or reshape). Strings are
 * not looked at: JSON.stringify writes a lone surrogate as a `\udXXX`
 * escape, which the json codec looks for in its output instead.
 */
export const checkShape = (value: unknown): void => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return
    case "number":
      if (!Number.isFinite(value)) throw refusalOf(value)
      return
    case "object": {
      if (value === null) return
      if (Array.isArray(value)) {
        let i = 0
        try {
          for (; i < value.length; i++) {
            const item: unknown = value[i]
            // scalars inline: most items are
            if (typeof item === "number" ? Number.isFinite(item) : typeof item === "string") continue
            if (item === undefined) throw refusalOf(item)
            checkShape(item)
          }
        } catch (e) {
          throw through(e, i)
        }
        return
      }
      if (!isPlainObject(value)) throw refusalOf(value)
      let key = ""
      try {
        for (key in value) {
          const item = (value as Record<string, unknown>)[key]
          if (typeof item === "number" ? Number.isFinite(item) : typeof item === "string") continue
          if (item !== undefined) checkShape(item)
        }
      } catch (e) {
        throw through(e, key)
      }
      return
    }
  }
  throw refusalOf(value)
}

/** Throws a `Refusal` for the first string (or key) that holds a lone surrogate. */
export const checkText = (value: unknown): void => {
  if (typeof value === "string") {
    if (!value.isWellFormed()) throw notText(value)
    return
  }
  if (typeof value !== "object" || value === null) return
  if (Array.isArray(value)) {
    let i = 0
    try {
      for (; i < value.length; i++) checkText(value[i])
    } catch (e) {
      throw through(e, i)
    }
    return
  }
  let key = ""
  try {
    for (key in value) {
      const item = (value as Record<string, unknown>)[key]
      if (item === undefined) continue
      if (!key.isWellFormed()) throw notText(key)
      checkText(item)
    }
  } catch (e) {
    throw through(e, key)
  }
}

/**
 * Throws a `Refusal` for the first number in parsed JSON that is not finite
 * (JSON.parse makes ±Infinity of a literal beyond the range of a double).
 * Only numbers are looked at: this walk runs on every JSON payload.
 */
export const checkFinite = (value: unknown): void => {
  if (typeof value !== "object" || value === null) {
    if (typeof value === "number" && !Number.isFinite(value)) throw overflow(value)
    return
  }
  if (Array.isArray(value)) {
    let i = 0
    try {
      for (; i < value.length; i++) {
        const item: unknown = value[i]
        if (typeof item === "number") {
          if (!Number.isFinite(item)) throw overflow(item)
        } else if (typeof item === "object") checkFinite(item)
      }
    } catch (e) {
      throw through(e, i)
    }
    return
  }
  let key = ""
  try {
    for (key in value) {
      const item = (value as Record<string, unknown>)[key]
      if (typeof item === "number") {
        if (!Number.isFinite(item)) throw overflow(item)
      } else if (typeof item === "object") checkFinite(item)
    }
  } catch (e) {
    throw through(e, key)
  }
}

const overflow = (n: number) =>
  new Refusal(`a number literal beyond the range of a double (read as ${n}) cannot be given to JSON callers`)

