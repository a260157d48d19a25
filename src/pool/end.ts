/**
 * How a pool worker's life can come out (SPEC §5): its states as a status
 * page shows them, and its ends as data — what each means for the slot (a
 * restart or not, counted or not) is decided from the end's tag and kind,
 * never from its words.
 *
 * | end     | when                                                              | what it held gets              | counts |
 * | ------- | ----------------------------------------------------------------- | ------------------------------ | ------ |
 * | Retired | recycled (maxJobs, ttl, idleTtl, maxMemoryMb, a cancel it clung to), reloaded, scaled down, the pool failed | nothing: it finished it | no |
 * | Killed  | a request ran past `execTimeout`                                  | `Timeout`; the rest `WorkerDied` | no   |
 * | Died    | it exited (or was lost) while holding requests                   | `WorkerDied`                   | no (the slot backs off) |
 * | Failed  | a failed boot, a protocol break, a death with nothing in flight, no pong within `heartbeat` (stuck) | `Protocol` (a break) | yes |
 * | Closed  | the pool closed under it                                          | `ShuttingDown`                 | no     |
 *
 * While liege is stopping (the drain), a worker that dies fails what it held
 * with `ShuttingDown`: a service manager may signal the whole process group,
 * and that is not the worker's failure.
 */

export type WorkerState = "booting" | "ready" | "busy" | "retiring"
/** What a status page shows for a slot: its worker's state, or `restarting` between two workers. */
export type SlotState = WorkerState | "restarting"

/**
 * Why a worker was let go: the option (or event) that decided it — a
 * recycle, a `reload`, an elastic pool's `scaleDown`, or the pool's failure.
 */
export type RecycleReason = "maxJobs" | "ttl" | "idleTtl" | "maxMemoryMb" | "cancel" | "reload" | "scaleDown" | "poolFailed"
/** What a failed worker failed at: its boot, the protocol, its spawn, a death with nothing in flight, a missed pong. */
export type FailureKind = "boot" | "protocol" | "spawn" | "idle" | "stuck"

export type End =
  | { readonly _tag: "Retired"; readonly why: RecycleReason; readonly reason: string }
  | { readonly _tag: "Killed"; readonly reason: string }
  | { readonly _tag: "Died"; readonly reason: string }
  | { readonly _tag: "Failed"; readonly kind: FailureKind; readonly reason: string }
  | { readonly _tag: "Closed"; readonly reason: string }

/** Counts towards `maxRestarts` in `restartWindow`. */
export const counts = (end: End): boolean => end._tag === "Failed"
/** The slot waits its backoff before the next worker (it failed or died, rather than being let go or killed). */
export const backsOff = (end: End): boolean => end._tag === "Failed" || end._tag === "Died"

/** A restart's kind, as the status document counts restarts. */
export const restartKind = (end: End): string =>
  end._tag === "Died" ? "died serving" : end._tag === "Failed" ? (end.kind === "idle" ? "died idle" : end.kind) : end._tag
