/**
 * One pool worker (SPEC §5), from spawn to its end: a state machine whose
 * states are what a status page shows, and whose ends are the pool's error
 * taxonomy (which requests fail with what, and which ends count towards
 * `maxRestarts`).
 *
 *     booting ──ready──▶ ready ◀──▶ busy
 *        │                 │          │
 *        └─────────────────┴──────────┴──▶ retiring ──▶ end (the slot is `restarting`, or boots the next)
 *
 * - `booting`: spawned; its `ready` frame is due within `bootTimeout`.
 * - `ready`: idle. `busy`: it holds requests (up to `maxInFlight`, counting
 *   cancelled ones it may still answer).
 * - `retiring`: it takes nothing new. It was let go (recycled: it finishes
 *   what it holds, then leaves on stdin EOF); or it is going on its own (its
 *   exit, the end of its stdout or a failed write was seen: what it holds may
 *   still be answered until its exit is read, briefly); or its end is decided
 *   and its process is being stopped.
 * - `restarting` is the slot's, between two workers (see `SlotState`).
 *
 * How it ends, and what each end means, is ./end.ts.
 *
 * Every callback here is plain synchronous code (the hot path has no
 * fibers): the link's, the child's exit, the alarm's. Its deadlines (boot,
 * each request's `execTimeout`, each cancel's grace, the wait for its exit,
 * the heartbeat) are plain numbers on Effect's `Clock`, rung by one alarm
 * (../internal/alarm.ts).
 */
import { Deferred, Effect } from "effect"
import type * as Alarm from "../internal/alarm.ts"
import type { Child } from "../supervisor/child.ts"
import type { Result } from "../supervisor/result.ts"
import type { ProtocolError } from "../wire/errors.ts"
import type { Link } from "../wire/link.ts"
import type { End, RecycleReason, WorkerState } from "./end.ts"
import type { PoolSettings } from "./options.ts"
import { Application, type PoolError, Protocol, ShuttingDown, Timeout, WorkerDied } from "./errors.ts"
import { checkChunk, checkReady, checkRes, PROTOCOL_VERSION } from "./protocol.ts"
import type { Answer, Request } from "./request.ts"

/** What the pool gives its workers. */
export interface WorkerHost {
  /** Its limits: `maxInFlight`, `maxJobs`, the boot, exec and cancel timeouts, the heartbeat. */
  readonly settings: PoolSettings
  /** liege is stopping: a death is not the worker's failure. */
  readonly stopping: () => boolean
  /** An accepted request's one answer. */
  readonly finish: (req: Request, answer: Answer) => void
  /** It is ready (its first `ready` frame). */
  readonly ready: (w: Worker) => void
  /** It has room for another request. */
  readonly room: () => void
  /** It was let go (recycled). */
  readonly recycled: (w: Worker, why: RecycleReason, reason: string) => void
  /** A request taken whose frame turned out not to have reached it: back to the front of the queue. */
  readonly unsent: (req: Request) => void
  /** It took its last request (`maxJobs`): it takes nothing new; its slot boots its successor. */
  readonly exhausted: (w: Worker) => void
  /** `n` moved by up to ±10 % (SPEC §5: workers started together do not retire together). */
  readonly jitter: (n: number) => number
}

/** How long a worker that is going may take to exit, or to let its last answers be read once it has. */
const EXIT_WAIT_MS = 200

const checkFlushed = (w: Worker) => w.flushed()

export class Worker {
  /** 1-based: its `LIEGE_WORKER_ID`, the `worker` of its errors and log lines. */
  readonly slot: number
  /** Which worker of the pool it is (1 for the first one spawned). */
  readonly serial: number
  /** Its `LIEGE_GENERATION`: 1, then one more per reload (SPEC §5 Reload). */
  readonly generation: number
  readonly child: Child
  link!: Link
  state: WorkerState = "booting"
  readonly startedAt: number
  readyAt: number | undefined = undefined
  idleSince: number
  /** Requests answered (or cancelled ones let go). */
  jobs = 0
  /** Requests taken: at `maxJobs` it takes nothing more. */
  private taken = 0
  /** Its own `maxJobs` and `ttl` (jittered; 0: none). */
  readonly maxJobs: number
  readonly ttlMs: number
  /** Requests it holds, in the order it took them (so the first has the earliest `execTimeout`). */
  readonly running = new Map<number, Request>()
  /** Cancelled requests it may still answer, with the end of their grace (ms on the clock). */
  readonly cancelled = new Map<number, number>()
  /** Requests taken this tick whose frames were left buffered (see `flushed`). */
  private readonly unflushed: Array<Request> = []
  /** Its end, once decided (it is then `retiring` until its process is gone). */
  end: End | undefined = undefined
  endedAt = 0
  /** Its process is to be killed rather than asked to leave on stdin EOF. */
  kill = false
  readonly ended = Deferred.makeUnsafe<End>()

  private readonly host: WorkerHost
  /** Why it is retiring before its end: let go by the pool, or going on its own. */
  private leaving: "recycled" | "gone" | undefined = undefined
  private why = ""
  /** It clung to a cancelled request: it is killed when it leaves, not asked. */
  private stuck = false
  /** Why it was recycled (once it is). */
  private recycleWhy: RecycleReason = "maxJobs"
  /** How it exited ("code 1", "signal SIGKILL"), once seen. */
  private exit: string | undefined = undefined
  private readonly alarm: Alarm.Alarm
  /** Its `ready` is due by then (while booting). */
  private readonly bootBy: number
  /** Once it is going on its own: its exit is due by then. */
  private exitBy: number | undefined = undefined
  /** The ping it owes a pong for: its number, and when it was sent. */
  private ping: { readonly n: number; readonly at: number } | undefined = undefined
  private pings = 0

  constructor(slot: number, serial: number, generation: number, child: Child, host: WorkerHost, alarm: Alarm.Alarm) {
    this.slot = slot
    this.serial = serial
    this.generation = generation
    this.maxJobs = host.settings.maxJobs === 0 ? 0 : Math.max(1, Math.round(host.jitter(host.settings.maxJobs)))
    this.ttlMs = host.settings.ttlMs === 0 ? 0 : host.jitter(host.settings.ttlMs)
    this.child = child
    this.host = host
    this.alarm = alarm
    this.startedAt = alarm.now()
    this.idleSince = this.startedAt
    this.bootBy = this.startedAt + host.settings.bootMs
    alarm.at(this.bootBy)
  }

  /** Requests it holds: running, and cancelled ones it has not let go of. */
  get load(): number {
    return this.running.size + this.cancelled.size
  }

  hasRoom(): boolean {
    return (this.state === "ready" || this.state === "busy") && this.load < this.host.settings.maxInFlight
  }

  /** The one place the state changes: booting → ready, ready ⇄ busy, anything → retiring, never back. */
  private to(next: WorkerState): void {
    const from = this.state
    if (from === next || from === "retiring" || (next === "busy" && from !== "ready")) return
    this.state = next
    switch (next) {
      case "ready":
        this.idleSince = this.alarm.now()
        if (this.host.settings.heartbeatMs > 0) this.alarm.at(this.idleSince + this.host.settings.heartbeatMs)
        if (from === "booting") {
          this.readyAt = this.idleSince
          this.host.ready(this)
        }
        return
      case "retiring":
        if (this.leaving === "recycled") this.host.recycled(this, this.recycleWhy, this.why)
        return
      default:
        return
    }
  }

  // ── requests ───────────────────────────────────────────────────────────

  /**
   * Writes the request to the worker, or refuses it — false: it never reached
   * the worker, which is gone (its exit was seen, its stdin is closed, or the
   * write failed at once: EPIPE), and takes nothing more.
   */
  take(req: Request): boolean {
    const frame = req.frame
    const stdin = this.child.stdin
    if (frame === undefined) return true // over already (answered or cancelled): nothing to send
    if (stdin === undefined) return this.refuse("it has no stdin")
    if (!this.child.running()) return this.refuse("it has exited")
    req.trace?.dispatched(frame, this.slot, this.child.pid)
    if (!this.link.sendFrame(frame)) return this.refuse("its stdin is closed")
    // a write that fails at once (the worker is gone) marks the stream errored before `write` returns
    if (stdin.errored !== null) return this.refuse(`writing to it failed (${stdin.errored.message})`)
    req.state = "running"
    req.worker = this
    this.running.set(req.id, req)
    req.deadline = this.alarm.now() + this.host.settings.execMs
    this.alarm.at(req.deadline)
    this.to("busy")
    // its last request: it takes nothing more, and its successor boots while it serves this one
    if (this.maxJobs > 0 && ++this.taken >= this.maxJobs) this.host.exhausted(this)
    if (stdin.writableLength === 0) {
      req.frame = undefined // it is in the pipe
    } else {
      // buffered: corked with this tick's other frames (flushed at the end of the tick or of the
      // chunk being read), or queued behind an unfinished write. A flush that fails at once means
      // it never reached the worker: that is looked at once this tick's flushes are done.
      if (this.unflushed.length === 0) process.nextTick(checkFlushed, this)
      this.unflushed.push(req)
    }
    return true
  }

  /**
   * After the tick in which frames were left buffered: if writing them failed
   * at once (the stream is errored now, and was not when they were taken —
   * no I/O has run since), none of them reached the worker, which is gone;
   * they go back to the queue. Otherwise they are written, or queued behind
   * a write still under way — and what happens to those counts as written.
   */
  flushed(): void {
    const errored = this.child.stdin?.errored ?? null
    if (errored !== null) this.gone(`writing to it failed (${errored.message})`)
    for (let i = 0; i < this.unflushed.length; i++) {
      const req = this.unflushed[i]!
      if (errored === null || req.state !== "running" || req.worker !== this) {
        req.frame = undefined
        continue
      }
      this.running.delete(req.id)
      this.host.unsent(req)
    }
    this.unflushed.length = 0
  }

  private refuse(why: string): false {
    this.gone(why)
    return false
  }

  /** Its caller left: a `cancel` frame; the answer, if any, is discarded. */
  cancel(req: Request): void {
    this.running.delete(req.id)
    if (this.end !== undefined) return
    this.link.send({ t: "cancel", id: req.id })
    const by = this.alarm.now() + this.host.settings.cancelGraceMs
    this.cancelled.set(req.id, by)
    this.alarm.at(by)
    this.leaveIfDone() // a retiring worker may have been waiting for just this request
  }

  onMessage(m: unknown): void {
    if (this.end !== undefined) return
    if ((m as { t?: unknown }).t === "pong") return this.pong((m as { n?: unknown }).n)
    if (this.readyAt === undefined) return this.handshake(m)
    if ((m as { t?: unknown }).t === "chunk") return this.chunk(m as Readonly<Record<string, unknown>>)
    const res = checkRes(m)
    if (typeof res === "string") return this.broke(res)
    const req = this.running.get(res.id)
    if (req === undefined) {
      if (!this.cancelled.delete(res.id)) return this.broke(`an answer to request ${res.id}, which is not outstanding`)
      return this.served()
    }
    this.running.delete(res.id)
    // the next request goes out before this answer's caller resumes: the worker is not kept waiting
    this.served()
    this.host.finish(req, "ok" in res ? { ok: res.ok } : new Application({ code: res.err.code, message: res.err.message }))
  }

  /** A chunk of a streaming answer: to its consumer, within the credit granted (else a protocol break). */
  private chunk(m: Readonly<Record<string, unknown>>): void {
    const chunk = checkChunk(m)
    if (typeof chunk === "string") return this.broke(chunk)
    const req = this.running.get(chunk.id)
    if (req === undefined) {
      // a cancelled stream may still be under way: its chunks are dropped
      if (this.cancelled.has(chunk.id)) return
      return this.broke(`a chunk for request ${chunk.id}, which is not outstanding`)
    }
    const sink = req.stream
    if (sink === undefined) return this.broke(`a chunk for request ${chunk.id}, which did not ask for a stream`)
    if (sink.received >= sink.granted) return this.broke(`a chunk for request ${chunk.id} beyond its credit (${sink.granted})`)
    sink.received++
    sink.chunk(chunk.data)
  }

  /** The consumer of a streaming request took `n` chunks: the worker may send `n` more. */
  credit(req: Request, n: number): void {
    if (this.end !== undefined || req.worker !== this || req.state !== "running" || req.stream === undefined) return
    req.stream.granted += n
    this.link.send({ t: "credit", id: req.id, n })
  }

  private handshake(m: unknown): void {
    const ready = checkReady(m)
    if (typeof ready === "string") return this.failBoot(ready)
    if (ready.pro !== PROTOCOL_VERSION) return this.failBoot(`worker speaks protocol ${ready.pro}, this host ${PROTOCOL_VERSION}`)
    this.to("ready")
  }

  /** One request off its hands (answered, or a cancelled one let go). */
  private served(): void {
    this.jobs++
    if (this.load === 0) this.to("ready")
    this.leaveIfDone()
    if (this.hasRoom()) this.host.room()
  }

  // ── leaving ────────────────────────────────────────────────────────────

  /** Recycling: it takes nothing new, finishes what it holds, then leaves on stdin EOF. */
  retire(why: RecycleReason, reason: string): void {
    if (this.end !== undefined || this.leaving !== undefined) return
    if (this.readyAt === undefined) return this.finish({ _tag: "Retired", why, reason }) // booting: nothing to finish
    this.leaving = "recycled"
    this.recycleWhy = why
    this.why = reason
    this.to("retiring")
    this.leaveIfDone()
  }

  /** A let-go worker leaves once it holds no live request (a cancelled one it clings to does not count). */
  private leaveIfDone(): void {
    if (this.leaving === "recycled" && this.running.size === 0) {
      this.finish({ _tag: "Retired", why: this.recycleWhy, reason: this.why }, undefined, this.stuck)
    }
  }

  private clung(id: number): void {
    this.stuck = true
    this.retire("cancel", `it did not let go of cancelled request ${id} within ${this.host.settings.cancelGraceMs} ms (cancelGrace)`)
    this.leaveIfDone()
  }

  private timedOut(req: Request): void {
    this.finish(
      { _tag: "Killed", reason: `request ${req.id} exceeded execTimeout (${this.host.settings.execMs} ms)` },
      (r) => r === req ? new Timeout({ ms: this.host.settings.execMs }) : this.diedError("killed: another request on it timed out")
    )
  }

  // ── the alarm: every deadline of the worker's ──────────────────────────

  /** A `pong`: it answers the ping with its number, and nothing else. */
  private pong(n: unknown): void {
    if (this.ping === undefined || n !== this.ping.n) return
    this.ping = undefined
    if (this.state === "ready") {
      this.idleSince = this.alarm.now()
      this.alarm.at(this.idleSince + this.host.settings.heartbeatMs)
    }
  }

  /** The alarm rang: whatever is due happens, then the alarm is set for the next deadline. */
  readonly ring = (now: number): void => {
    if (this.end !== undefined) return
    if (this.readyAt === undefined && now >= this.bootBy) {
      return this.failBoot(`no ready within ${this.host.settings.bootMs} ms (bootTimeout)`)
    }
    if (this.exitBy !== undefined && now >= this.exitBy) return this.died()
    const oldest = first(this.running)
    if (oldest !== undefined && now >= oldest.deadline) return this.timedOut(oldest)
    for (const [id, by] of this.cancelled) {
      if (now >= by) {
        this.cancelled.delete(id)
        this.clung(id)
        if (this.end !== undefined) return
      }
    }
    const heartbeatMs = this.host.settings.heartbeatMs
    if (this.ping !== undefined && now - this.ping.at >= heartbeatMs) {
      // alive, but not answering: it is killed through the escalation (no `kill`), and counts
      return this.finish({ _tag: "Failed", kind: "stuck", reason: `stuck: no pong within ${heartbeatMs} ms (heartbeat)` }, undefined, false)
    }
    if (heartbeatMs > 0 && this.ping === undefined && this.state === "ready" && this.load === 0 && now - this.idleSince >= heartbeatMs) {
      this.ping = { n: ++this.pings, at: now }
      this.link.send({ t: "ping", n: this.ping.n })
    }
    let next = Infinity
    if (this.readyAt === undefined) next = this.bootBy
    if (this.exitBy !== undefined) next = Math.min(next, this.exitBy)
    const after = first(this.running)
    if (after !== undefined) next = Math.min(next, after.deadline)
    for (const by of this.cancelled.values()) next = Math.min(next, by)
    if (this.ping !== undefined) next = Math.min(next, this.ping.at + heartbeatMs)
    else if (heartbeatMs > 0 && this.state === "ready") next = Math.min(next, this.idleSince + heartbeatMs)
    if (next !== Infinity) this.alarm.at(next)
  }

  /** The link ended: a protocol error, or the end of its stdout (it can answer nothing more). */
  linkClosed(error: ProtocolError | undefined): void {
    if (error !== undefined) return this.readyAt === undefined ? this.failBoot(error.message) : this.broke(error.message)
    if (this.exit !== undefined) return this.died() // its exit was waiting for these last answers
    this.gone("it closed its stdout")
  }

  /** Writing to it failed (EPIPE: it is going away): it takes nothing more. */
  stdinError(error: { readonly message: string }): void {
    this.gone(`writing to it failed (${error.message})`)
  }

  exited(r: Result): void {
    this.exit = r.how
    if (this.end !== undefined) return
    // the exit can be seen before the last answers in its stdout: those are read first (briefly)
    if (this.link.closed()) this.died()
    else this.gone(`exited (${this.exit})`)
  }

  /** The pool closed under it: what it holds is answered first. */
  close(): void {
    this.finish({ _tag: "Closed", reason: "the pool closed" }, () => new ShuttingDown({ reason: "the pool closed" }))
  }

  /** It is going on its own: it takes nothing new; its exit (seen, or awaited briefly) decides its end. */
  private gone(why: string): void {
    if (this.end !== undefined || this.leaving === "gone") return
    this.leaving = "gone"
    this.why = why
    this.to("retiring")
    this.exitBy = this.alarm.now() + EXIT_WAIT_MS
    this.alarm.at(this.exitBy)
  }

  /** It is gone: a death while holding requests fails them (Died); before ready, or with nothing held, it Failed. */
  private died(): void {
    if (this.end !== undefined) return
    const how = this.exit !== undefined ? `exited (${this.exit})` : `${this.why}, and it did not exit within ${EXIT_WAIT_MS} ms`
    if (this.readyAt === undefined) return this.failBoot(`${how} before ready`)
    // liege is stopping: what it held cannot finish, and that is the stop's doing (ShuttingDown), not the worker's
    const error = this.host.stopping()
      ? () => new ShuttingDown({ reason: `its worker ${how} while liege was stopping` })
      : () => this.diedError(how)
    if (this.load > 0) return this.finish({ _tag: "Died", reason: how }, error)
    this.finish({ _tag: "Failed", kind: "idle", reason: `${how} with no request in flight` })
  }

  private diedError(reason: string): WorkerDied {
    return new WorkerDied({ worker: this.slot, pid: this.child.pid, reason })
  }

  private failBoot(reason: string): void {
    this.finish({ _tag: "Failed", kind: "boot", reason: `boot: ${reason}` })
  }

  private broke(reason: string): void {
    this.finish({ _tag: "Failed", kind: "protocol", reason: `protocol: ${reason}` }, () => new Protocol({ worker: this.slot, reason }))
  }

  /** Its end: what it still holds gets `error`; nothing more happens to it but the stopping of its process. */
  private finish(end: End, error: (req: Request) => PoolError = () => this.diedError(end.reason), kill = true): void {
    if (this.end !== undefined) return
    this.end = end
    this.endedAt = this.alarm.now()
    this.kill = kill
    this.ping = undefined
    this.to("retiring")
    // it holds nothing from here on (the answers may look: a drain waits for nothing to be running)
    const held = [...this.running.values()]
    this.running.clear()
    this.cancelled.clear()
    for (const req of held) this.host.finish(req, error(req))
    Deferred.doneUnsafe(this.ended, Effect.succeed(end))
  }
}

/** The first value of a map (its oldest entry), if any. */
const first = <V>(m: Map<number, V>): V | undefined => {
  for (const v of m.values()) return v
  return undefined
}
