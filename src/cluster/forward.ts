/**
 * Events forwarded between runners without the cluster's messages (SPEC §9:
 * every runner answers every route; the serf's owner does the work).
 *
 * Through the cluster, one event taken by a runner that does not own its
 * serf is an entity request: an RPC client, the sharding, a socket frame
 * encoded and decoded on both sides, the owner's mailbox and RPC server —
 * several times what the serf's own work costs. Here, once a runner has
 * learnt from an answer which runner serves a serf (the answer names its
 * HTTP address, `PokeReply.url`), it sends that runner its later events for
 * the serf itself, over keep-alive HTTP, many in one request:
 *
 * - the events waiting for one runner go in one `POST /v1/cluster/forward`
 *   (at most `--max-body` bytes): a JSON array of `{"s": serf, "k": key,
 *   "e": event as JSON text}`;
 * - the owner answers 200 with one line per event as each is answered, in
 *   any order (an empty line first if none is answered within 2 ms: the
 *   first line tells the forwarding runner the batch is taken): `I
 *   ANSWER`, `I` the event's place in the batch and `ANSWER` its serf's
 *   answer — `{"eve","mug","fx": effects as JSON text,"sw"?: swapped event
 *   as JSON text,"r": runner}` or `{"x": refusal}` — or `0` for an event
 *   whose serf is not serving there (not owned, not active, let go, its log
 *   claimed elsewhere, the owner's database lost). A slow event holds up no
 *   other;
 * - while `batchesInFlight` batches are on their way (sent, not yet taken),
 *   the next waits, and takes every event that came meanwhile: under load,
 *   fewer and larger requests;
 * - a `0`, and any failure of the way (an error, a status other than 200,
 *   an owner that stops answering its `/livez`), sends the event the
 *   cluster's way instead, with the same key: the key makes a second
 *   delivery find the first one's answer (on the owner, in its log), so an
 *   event is still logged at most once whichever way it went.
 *
 * This is only a shortcut: the cluster still decides where a serf lives,
 * and an event the shortcut cannot place takes the cluster's way.
 */
import * as http from "node:http"
import { Exit } from "effect"
import { type PokeReply, Refusal } from "./protocol.ts"

export const FORWARD_PATH = "/v1/cluster/forward"

/** An event's answer from the owner, or `elsewhere`: send it the cluster's way. */
export type Forwarded = Exit.Exit<PokeReply, Refusal> | "elsewhere"

/** One forwarded event, as the owner reads it. */
export interface ForwardItem {
  readonly id: string
  readonly key: string
  readonly ev: string
}

/** The batch's items, or undefined when the body is not one. */
export const decodeBatch = (body: unknown): ReadonlyArray<ForwardItem> | undefined => {
  if (!Array.isArray(body)) return undefined
  const items = new Array<ForwardItem>(body.length)
  for (let i = 0; i < body.length; i++) {
    const o = body[i] as { s?: unknown; k?: unknown; e?: unknown } | null
    if (typeof o !== "object" || o === null || typeof o.s !== "string" || typeof o.k !== "string" || typeof o.e !== "string") return undefined
    items[i] = { id: o.s, key: o.k, ev: o.e }
  }
  return items
}

/** The owner's line for the batch's item `i`. */
export const answerLine = (i: number, answer: Forwarded): string => `${i} ${encodeAnswer(answer)}\n`

/** The owner's answer for one item (JSON text). */
const encodeAnswer = (answer: Forwarded): string => {
  if (answer === "elsewhere") return "0"
  if (Exit.isSuccess(answer)) {
    const r = answer.value
    return JSON.stringify({ eve: r.eve, mug: r.mug, fx: r.effects, sw: r.swapped, r: r.runner })
  }
  const failure = answer.cause.reasons.find((reason) => reason._tag === "Fail")
  if (failure === undefined || !(failure.error instanceof Refusal)) return "0"
  const x = failure.error
  return JSON.stringify({ x: { tag: x.tag, message: x.message, fields: x.fields, goofs: x.goofs } })
}

const decodeAnswer = (a: unknown, url: string): Forwarded => {
  if (typeof a !== "object" || a === null) return "elsewhere"
  const o = a as Record<string, unknown>
  if (typeof o["x"] === "object" && o["x"] !== null) {
    const x = o["x"] as { tag?: unknown; message?: unknown; fields?: unknown; goofs?: unknown }
    if (typeof x.tag !== "string" || typeof x.message !== "string") return "elsewhere"
    return Exit.fail(new Refusal({
      tag: x.tag,
      message: x.message,
      ...(typeof x.fields === "object" && x.fields !== null ? { fields: x.fields as Record<string, string | number | boolean | null> } : {}),
      ...(typeof x.goofs === "string" ? { goofs: x.goofs } : {})
    }))
  }
  const { eve, mug, fx, sw, r } = o
  if (typeof eve !== "number" || typeof mug !== "number" || typeof fx !== "string" || typeof r !== "string") return "elsewhere"
  return Exit.succeed({ eve, mug, effects: fx, ...(typeof sw === "string" ? { swapped: sw } : {}), runner: r, url })
}

interface Item {
  /** Its JSON in the batch. */
  readonly json: string
  readonly bytes: number
  readonly id: string
  /** Undefined once told (or once its caller stopped waiting). */
  done: ((answer: Forwarded) => void) | undefined
}

/** The events waiting for one owner's next batch. */
interface Lane {
  queue: Array<Item>
  bytes: number
  scheduled: boolean
  /** Batches sent that the owner has not taken yet. */
  onTheWay: number
  /** Until when the owner is not forwarded to (it did not answer its `/livez`), on `Date.now()`. */
  downUntil: number
}

export interface ForwarderOptions {
  /** This runner's own HTTP address (never forwarded to). */
  readonly self: string
  /** The cluster's token (`--token`): the owner's routes need it too. */
  readonly token: string | undefined
  /** A batch's largest body (`--max-body`: the owner's limit, the same flags on every runner). */
  readonly maxBody: number
  /** A batch unanswered this long: the owner's `/livez` is asked (a silent owner's events go the cluster's way). */
  readonly probeMs: number
  /** An owner that did not answer its `/livez` is not forwarded to for this long. */
  readonly downMs: number
  /** Batches on their way to one owner at a time (sent, not taken yet): the next waits, and takes what came meanwhile. */
  readonly batchesInFlight: number
}

export interface Forwarder {
  /** Learns from an answer where a serf is served (`url` undefined: unknown). */
  readonly learn: (id: string, url: string | undefined) => void
  /**
   * Sends the event to the runner serving `id`, when known: `done` gets its
   * answer, or `elsewhere`; the function returned stops waiting. Undefined
   * when it is not known where `id` is served: take the cluster's way.
   */
  readonly send: (id: string, key: string, ev: string, done: (answer: Forwarded) => void) => (() => void) | undefined
  readonly close: () => void
}

/** How many serfs' owners are remembered (past it, the memory starts again). */
const REMEMBERED = 100_000

export const makeForwarder = (options: ForwarderOptions): Forwarder => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const owners = new Map<string, string>()
  const lanes = new Map<string, Lane>()
  const headers: Record<string, string> = { "content-type": "application/json" }
  if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
  const budget = options.maxBody - 2

  const laneOf = (url: string): Lane => {
    let lane = lanes.get(url)
    if (lane === undefined) lanes.set(url, lane = { queue: [], bytes: 0, scheduled: false, onTheWay: 0, downUntil: 0 })
    return lane
  }

  const learn = (id: string, url: string | undefined) => {
    if (url === undefined || url === options.self) {
      owners.delete(id)
      return
    }
    if (owners.get(id) === url) return
    if (owners.size >= REMEMBERED) owners.clear()
    owners.set(id, url)
  }

  /** The owner's `/livez` within `probeMs`: false for no answer, an error, or another status. */
  const alive = (url: string, answer: (up: boolean) => void) => {
    let told = false
    const tell = (up: boolean) => {
      if (told) return
      told = true
      answer(up)
    }
    const req = http.get(`${url}/livez`, { agent, timeout: options.probeMs }, (res) => {
      res.resume()
      tell(res.statusCode === 200)
    })
    req.on("timeout", () => {
      req.destroy()
      tell(false)
    })
    req.on("error", () => tell(false))
  }

  const tell = (url: string, item: Item, answer: Forwarded) => {
    const done = item.done
    if (done === undefined) return
    item.done = undefined
    // the owner does not serve it (any more): the cluster's way, and the next answer says where it is
    if (answer === "elsewhere" && owners.get(item.id) === url) owners.delete(item.id)
    done(answer)
  }

  const schedule = (url: string, lane: Lane) => {
    if (lane.scheduled) return
    lane.scheduled = true
    setImmediate(() => {
      lane.scheduled = false
      flush(url, lane)
    })
  }

  /** The owner is silent: what waits for it, and what it has not answered, goes the cluster's way. */
  const down = (url: string, lane: Lane) => {
    lane.downUntil = Date.now() + options.downMs
    const queued = lane.queue
    lane.queue = []
    lane.bytes = 0
    for (const item of queued) tell(url, item, "elsewhere")
  }

  /** Sends what waits for `url`, up to the body limit, unless as many batches as allowed are on their way. */
  const flush = (url: string, lane: Lane) => {
    if (lane.onTheWay >= options.batchesInFlight) return
    const batch: Array<Item> = []
    let bytes = 0
    let taken = 0
    for (; taken < lane.queue.length; taken++) {
      const item = lane.queue[taken]!
      if (item.done === undefined) continue
      if (batch.length > 0 && bytes + item.bytes > budget) break
      batch.push(item)
      bytes += item.bytes
    }
    lane.queue = taken === lane.queue.length ? [] : lane.queue.slice(taken)
    lane.bytes = lane.queue.length === 0 ? 0 : lane.bytes - bytes
    if (lane.queue.length > 0) schedule(url, lane)
    if (batch.length === 0) return
    lane.onTheWay++
    let received = false
    let left = batch.length
    let timer: ReturnType<typeof setTimeout> | undefined
    /** The owner has the batch (or never will): the next one may go. */
    const onItsWay = () => {
      if (received) return
      received = true
      lane.onTheWay--
      if (lane.queue.length > 0) schedule(url, lane)
    }
    const answer = (i: number, a: Forwarded) => {
      const item = batch[i]
      if (item === undefined || item.done === undefined) return
      left--
      tell(url, item, a)
      if (left === 0 && timer !== undefined) clearTimeout(timer)
    }
    /** Every event not answered yet goes the cluster's way. */
    const giveUp = () => {
      onItsWay()
      if (timer !== undefined) clearTimeout(timer)
      for (let i = 0; i < batch.length; i++) answer(i, "elsewhere")
      left = 0
    }
    let body = "["
    for (let i = 0; i < batch.length; i++) body += (i === 0 ? "" : ",") + batch[i]!.json
    body += "]"
    const req = http.request(`${url}${FORWARD_PATH}`, { method: "POST", agent, headers }, (res) => {
      onItsWay()
      if (res.statusCode !== 200) {
        res.resume()
        return giveUp()
      }
      res.setEncoding("utf8")
      let rest = ""
      res.on("data", (chunk: string) => {
        const text = rest + chunk
        let from = 0
        for (let nl = text.indexOf("\n", from); nl >= 0; nl = text.indexOf("\n", from)) {
          const line = text.slice(from, nl)
          from = nl + 1
          if (line === "") continue
          const space = line.indexOf(" ")
          let a: Forwarded = "elsewhere"
          try {
            a = decodeAnswer(JSON.parse(line.slice(space + 1)) as unknown, url)
          } catch {
            a = "elsewhere"
          }
          answer(Number(line.slice(0, space)), a)
        }
        rest = text.slice(from)
      })
      res.on("end", giveUp)
      res.on("error", giveUp)
      res.on("close", giveUp)
    })
    req.on("error", giveUp)
    // a batch the owner takes long over: is it there at all? (a slow serf or commit is not a reason
    // to send its events again; a silent owner is)
    const watch = () => {
      timer = setTimeout(() => {
        timer = undefined
        if (left === 0) return
        alive(url, (up) => {
          if (left === 0) return
          if (up) return watch()
          down(url, lane)
          req.destroy()
          giveUp()
        })
      }, options.probeMs)
    }
    watch()
    req.end(body)
  }

  const send = (id: string, key: string, ev: string, done: (answer: Forwarded) => void) => {
    const url = owners.get(id)
    if (url === undefined) return undefined
    const lane = laneOf(url)
    if (lane.downUntil > Date.now()) {
      owners.delete(id)
      return undefined
    }
    const json = `{"s":${JSON.stringify(id)},"k":${JSON.stringify(key)},"e":${JSON.stringify(ev)}}`
    const bytes = Buffer.byteLength(json) + 1
    if (bytes > budget) return undefined
    const item: Item = { json, bytes, id, done }
    lane.queue.push(item)
    lane.bytes += bytes
    if (lane.bytes > budget) flush(url, lane)
    schedule(url, lane)
    return () => {
      item.done = undefined
    }
  }

  return { learn, send, close: () => agent.destroy() }
}
