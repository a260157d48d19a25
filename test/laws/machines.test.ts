/**
 * Model tests of the pure machines (fast-check, milliseconds, no process):
 * generated operations on the real class, checked against a model or an
 * invariant after every step.
 *
 * - the pool's queue: size, order (put-back requests first, in acceptance
 *   order), cancellation;
 * - dispatch: a request goes to the least loaded worker with room, and no
 *   request waits while a worker has room;
 * - poison isolation: an event is poison exactly when a serf ended owing it
 *   with it alone, right after one ended owing it as its oldest;
 * - the serf lock and its window: never more than `maxInFlight` writs out,
 *   answers to their callers in order, control flows alone, one answer per
 *   op after a failure; the stuck rule counts from when a writ became the
 *   oldest, never from when it was sent.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import type { Alarm } from "../../src/internal/alarm.ts"
import { Isolation, type Suspect } from "../../src/pier/poison.ts"
import { Dispatch } from "../../src/pool/dispatch.ts"
import { Queue } from "../../src/pool/queue.ts"
import type { Request } from "../../src/pool/request.ts"
import type { Worker } from "../../src/pool/worker.ts"
import type { SerfError } from "../../src/serf/errors.ts"
import { type LockOp, SerfLock } from "../../src/serf/lock.ts"
import { isError, type WorkAnswer, type WorkOp } from "../../src/serf/window.ts"
import type { Link } from "../../src/wire/link.ts"

const request = (id: number): Request => ({
  id,
  frame: Buffer.alloc(0),
  acceptedAt: 0,
  answer: () => {},
  state: "queued",
  worker: undefined,
  deadline: 0,
  stream: undefined,
  trace: undefined
})

describe("machines", () => {
  it("queue: size counts the live requests; put-back ones come first in acceptance order, then the FIFO", () => {
    type Op =
      | { op: "push" }
      | { op: "cancel"; pick: number }
      | { op: "take" }
      | { op: "takeAndPutBack" }
      | { op: "putBackReversed"; k: number }
      | { op: "drain" }
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.constant<Op>({ op: "push" }) },
      { weight: 2, arbitrary: fc.nat(20).map((pick): Op => ({ op: "cancel", pick })) },
      { weight: 2, arbitrary: fc.constant<Op>({ op: "take" }) },
      { weight: 2, arbitrary: fc.constant<Op>({ op: "takeAndPutBack" }) },
      { weight: 2, arbitrary: fc.integer({ min: 2, max: 4 }).map((k): Op => ({ op: "putBackReversed", k })) },
      { weight: 1, arbitrary: fc.constant<Op>({ op: "drain" }) }
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const queue = new Queue(1000)
      let nextId = 1
      /** The model: live requests waiting, put-back ones (by id) ahead of the others (in push order). */
      let front: Array<Request> = []
      let fifo: Array<Request> = []
      const order = () => [...front, ...fifo]
      for (const o of ops) {
        switch (o.op) {
          case "push": {
            const r = request(nextId++)
            queue.push(r)
            fifo.push(r)
            break
          }
          case "cancel": {
            const live = order()
            if (live.length === 0) break
            const r = live[o.pick % live.length]!
            queue.cancel(r)
            front = front.filter((x) => x !== r)
            fifo = fifo.filter((x) => x !== r)
            break
          }
          case "take":
          case "takeAndPutBack": {
            const head = queue.peek()
            expect(head).toBe(order()[0])
            if (head === undefined) break
            queue.take()
            front = front.filter((x) => x !== head)
            fifo = fifo.filter((x) => x !== head)
            if (o.op === "takeAndPutBack") {
              queue.putBack(head)
              front = [...front, head].sort((a, b) => a.id - b.id)
            }
            break
          }
          case "putBackReversed": {
            // several given to workers that turn out to be gone, put back in another order than taken
            const taken: Array<Request> = []
            for (let i = 0; i < o.k; i++) {
              const head = queue.peek()
              if (head === undefined) break
              queue.take()
              taken.push(head)
            }
            front = front.filter((x) => !taken.includes(x))
            fifo = fifo.filter((x) => !taken.includes(x))
            for (const r of taken.reverse()) queue.putBack(r)
            front = [...front, ...taken].sort((a, b) => a.id - b.id)
            break
          }
          case "drain":
            expect(queue.drain()).toEqual(order())
            front = []
            fifo = []
        }
        expect(queue.size).toBe(order().length)
        expect(queue.peek()).toBe(order()[0])
      }
    }), { numRuns: 300 })
  })

  it("dispatch: each request goes to the least loaded worker with room, and none waits while a worker has room", () => {
    interface Fake {
      load: number
      gone: boolean
      readonly max: number
    }
    type Op = { op: "submit" } | { op: "answer"; pick: number } | { op: "vanish"; pick: number }
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.constant<Op>({ op: "submit" }) },
      { weight: 4, arbitrary: fc.nat(10).map((pick): Op => ({ op: "answer", pick })) },
      { weight: 1, arbitrary: fc.nat(10).map((pick): Op => ({ op: "vanish", pick })) }
    )
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.array(op, { maxLength: 60 }), (n, max, ops) => {
      const fakes: Array<Fake> = Array.from({ length: n }, () => ({ load: 0, gone: false, max }))
      const taken: Array<{ readonly worker: number; readonly loads: ReadonlyArray<number> }> = []
      const workers = fakes.map((f, i) => ({
        get load() {
          return f.load
        },
        hasRoom: () => !f.gone && f.load < f.max,
        take: (_req: Request) => {
          if (f.gone) return false
          taken.push({ worker: i, loads: fakes.map((x) => (x.gone || x.load >= x.max ? Infinity : x.load)) })
          f.load++
          return true
        }
      })) as unknown as Array<Worker>
      const queue = new Queue(1000)
      const dispatch = new Dispatch(workers, queue)
      let nextId = 1
      // a worker found gone on `take` counts as having no room from then on (as the real one does)
      for (const o of ops) {
        if (o.op === "submit") {
          const r = request(nextId++)
          if (!dispatch.place(r)) queue.push(r)
        } else if (o.op === "answer") {
          const busy = fakes.filter((f) => f.load > 0)
          if (busy.length === 0) continue
          busy[o.pick % busy.length]!.load--
          dispatch.pump()
        } else {
          const alive = fakes.filter((f) => !f.gone)
          if (alive.length <= 1) continue
          const f = alive[o.pick % alive.length]!
          // it vanishes unnoticed: the next take finds it gone
          f.gone = true
          f.load = 0
        }
        expect(queue.size > 0 && workers.some((w) => w.hasRoom())).toBe(false)
      }
      for (const t of taken) expect(t.loads[t.worker]).toBe(Math.min(...t.loads))
    }), { numRuns: 300 })
  })

  it("isolation: an event is poison exactly when a serf ended owing it alone, right after one ended owing it as its oldest", () => {
    interface Ev extends Suspect {
      readonly label: number
    }
    type Gen = { end: "survive" } | { end: "die"; after: number } | { end: "idle" }
    const gen: fc.Arbitrary<Gen> = fc.oneof(
      fc.constant<Gen>({ end: "survive" }),
      fc.nat(4).map((after): Gen => ({ end: "die", after })),
      fc.constant<Gen>({ end: "idle" })
    )
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.array(gen, { maxLength: 12 }), (count, gens) => {
      const isolation = new Isolation<Ev>()
      const pending = new Map<number, Ev>(Array.from({ length: count }, (_, i) => [i, { id: i, label: i, lostIn: 0 }]))
      /** The model: the event the next serf must get alone. */
      let suspect: Ev | undefined = undefined
      gens.forEach((g, i) => {
        const n = i + 1
        const alone = isolation.begin(pending)
        expect(alone).toBe(suspect !== undefined && pending.has(suspect.id) ? suspect : undefined)
        const sent = alone !== undefined ? [alone] : [...pending.values()]
        if (g.end === "survive") {
          for (const e of sent) {
            pending.delete(e.id)
            if (isolation.answered(e) && alone !== undefined) sent.push(...[...pending.values()].filter((x) => !sent.includes(x)))
          }
        } else if (g.end === "die") {
          const done = Math.min(g.after, sent.length)
          for (const e of sent.slice(0, done)) {
            pending.delete(e.id)
            isolation.answered(e)
          }
          for (const e of sent.slice(done)) e.lostIn = n
        }
        const blame = isolation.ended(n, pending)
        const lost = [...pending.values()].filter((e) => e.lostIn === n)
        if (alone !== undefined && lost.includes(alone)) {
          // owed alone, after being the oldest owed: poison
          expect(blame).toMatchObject({ _tag: "Poison", event: alone })
          pending.delete(alone.id)
          suspect = undefined
        } else if (alone !== undefined && pending.has(alone.id) && g.end !== "die") {
          // ended without owing it (idle): it goes alone again
          expect(blame._tag).toBe("None")
        } else if (alone === undefined && lost.length > 0) {
          expect(blame).toMatchObject({ _tag: "Suspect", event: lost[0] })
          suspect = lost[0]
        } else {
          expect(blame._tag).toBe("None")
          if (alone === undefined || !pending.has(alone.id)) suspect = undefined
        }
      })
    }), { numRuns: 500 })
  })

  it("serf lock: at most maxInFlight out, answers in order, control flows alone, and one answer per op after a failure", () => {
    type Op = { op: "work" } | { op: "control" } | { op: "answer" } | { op: "fail" }
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.constant<Op>({ op: "work" }) },
      { weight: 1, arbitrary: fc.constant<Op>({ op: "control" }) },
      { weight: 5, arbitrary: fc.constant<Op>({ op: "answer" }) },
      { weight: 1, arbitrary: fc.constant<Op>({ op: "fail" }) }
    )
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 80 }), (max, ops) => {
      const sent: Array<unknown> = []
      const link = { send: (m: unknown) => (sent.push(m), true), sendFrame: (f: Buffer) => (sent.push(f), true) } as unknown as Link
      const alarm: Alarm = { now: () => 0, at: () => {} }
      const lock = new SerfLock(1, max, link, { alarm, workTimeoutMs: 0, heartbeatMs: 0 }, () => {})
      lock.onMessage({ t: "ripe", pro: 1, hon: 1, nok: 1, eve: 0, mug: 0 })
      const answers: Array<number> = []
      const results = new Map<number, number>()
      let submitted = 0
      let holding: LockOp | undefined = undefined
      const controls: Array<LockOp> = []
      for (const o of ops) {
        if (o.op === "work") {
          const n = submitted++
          const wop: WorkOp = {
            kind: "work",
            wen: 0,
            ev: n,
            frame: Buffer.from([n]),
            done: (a: WorkAnswer | SerfError) => {
              results.set(n, (results.get(n) ?? 0) + 1)
              if (!isError(a)) answers.push(n)
            },
            sent: false,
            cancelled: false
          }
          lock.submit(wop)
        } else if (o.op === "control") {
          const c: LockOp = {
            kind: "lock",
            grant: () => {
              // a control flow is alone: nothing of the window is out
              expect(lock.inFlight).toBe(0)
              holding = c
            },
            refuse: () => {},
            cancelled: false
          }
          controls.push(c)
          lock.submit(c)
        } else if (o.op === "answer") {
          if (holding !== undefined) {
            holding = undefined
            lock.release()
          } else if (lock.inFlight > 0) {
            lock.onMessage({ t: "work-done", eve: lock.eve + 1, mug: 0, fec: [] })
          }
        } else {
          lock.fail(new Error("gone") as never)
        }
        expect(lock.inFlight).toBeLessThanOrEqual(max)
      }
      // answers came in submission order
      expect(answers).toEqual([...answers].sort((a, b) => a - b))
      lock.fail(new Error("end") as never)
      // every op got exactly one answer
      for (let n = 0; n < submitted; n++) expect(results.get(n)).toBe(1)
    }), { numRuns: 300 })
  })

  it("stuck: a writ counts from when it became the oldest; a gap of workTimeout with one owed is stuck", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 1, maxLength: 12 }), fc.boolean(), (max, gaps, stall) => {
      const W = 100
      let now = 0
      let dead: SerfError | undefined = undefined
      const link = { send: () => true, sendFrame: () => true } as unknown as Link
      const alarm: Alarm = { now: () => now, at: () => {} }
      const lock = new SerfLock(1, max, link, { alarm, workTimeoutMs: W, heartbeatMs: 0 }, (e) => (dead = e))
      lock.onMessage({ t: "ripe", pro: 1, hon: 1, nok: 1, eve: 0, mug: 0 })
      for (let i = 0; i < gaps.length; i++) {
        lock.submit({ kind: "work", wen: 0, ev: i, frame: Buffer.alloc(1), done: () => {}, sent: false, cancelled: false })
      }
      // each answer comes less than W after the one before it: never stuck, however long the whole takes
      for (const gap of gaps) {
        now += gap
        lock.ring(now)
        expect(dead).toBeUndefined()
        lock.onMessage({ t: "work-done", eve: lock.eve + 1, mug: 0, fec: [] })
      }
      if (!stall) return
      lock.submit({ kind: "work", wen: 0, ev: "last", frame: Buffer.alloc(1), done: () => {}, sent: false, cancelled: false })
      now += W - 1
      lock.ring(now)
      expect(dead).toBeUndefined()
      now += 1
      lock.ring(now)
      expect(dead).toMatchObject({ _tag: "SerfStuck", writ: "work", ms: W })
    }), { numRuns: 300 })
  })
})
