/**
 * The flags of every subcommand (SPEC §8), as data: the parser, the help
 * text and the programs all read these. Nothing here loads Effect.
 */
import { availableParallelism } from "node:os"
import { clusterDefaults, poolDefaults, serfDefaults, serverDefaults, supervisorDefaults, workerDefaults } from "../defaults.ts"
import type { Flag, Subcommand } from "./args.ts"

const logFormat = {
  kind: "choice",
  choices: ["pretty", "json"],
  description: "log lines on stderr (default: pretty on a TTY, json otherwise)"
} as const satisfies Flag

/** Opt-in liveness pings (SPEC §1), for pool workers and serfs alike. */
const heartbeatFlag = {
  kind: "duration",
  meta: "D",
  description: "ping a worker idle this long; no pong within D again: it is stuck, killed and replaced (default: off)"
} as const satisfies Flag

/** The flags both servers take (`liege serf`, `liege pool`). */
const serverFlags = {
  listen: { kind: "listen", default: serverDefaults.listen, description: "HTTP address (port 0: any free port, printed)" },
  token: { kind: "string", meta: "T", env: "LIEGE_TOKEN", description: "require Authorization: Bearer T on every route but the probes" },
  drain: { kind: "duration", default: serverDefaults.drainMs, description: "on SIGTERM: time to answer what was accepted" },
  codec: { kind: "choice", choices: ["json", "msgpack"], default: workerDefaults.codec, description: "wire codec" },
  maxFrameBytes: { kind: "count", default: workerDefaults.maxFrameBytes, min: 1, description: "largest frame accepted from a worker" },
  maxBody: { kind: "count", default: serverDefaults.maxBody, min: 1, description: "largest request body in bytes (413 above)" },
  maxDepth: { kind: "count", default: serverDefaults.maxDepth, min: 1, description: "deepest nesting of arrays and objects in a JSON body" },
  logFormat
} as const satisfies Record<string, Flag>

export const run = {
  name: "run",
  usage: "liege run [flags] -- CMD ARGS…",
  description: "Run one supervised process: its stdout and stderr pass through, its exit status is liege's.",
  command: true,
  flags: {
    grace: { kind: "duration", default: supervisorDefaults.graceMs, description: "natural-exit and SIGTERM windows" },
    killWait: { kind: "duration", default: supervisorDefaults.killWaitMs, description: "wait after SIGKILL" },
    timeout: { kind: "duration", description: "start the escalation after this long" },
    report: { kind: "choice", choices: ["json"], description: "print the result as one JSON line on stderr" },
    logFormat
  }
} as const satisfies Subcommand

export const serf = {
  name: "serf",
  usage: "liege serf --pier DIR [flags] -- CMD ARGS…",
  description: "Run one serf with its durable event log (pier), behind HTTP.",
  command: true,
  flags: {
    pier: { kind: "string", required: true, meta: "DIR", description: "pier folder (created if missing)" },
    maxInFlight: { kind: "count", default: serfDefaults.maxInFlight, min: 1, description: "work writs outstanding" },
    batch: { kind: "count", default: serfDefaults.batchSize, min: 1, description: "replay batch size" },
    bootTimeout: { kind: "duration", default: serfDefaults.bootTimeoutMs, description: "ripe handshake limit" },
    stopGrace: { kind: "duration", default: serfDefaults.stopGraceMs, description: "after exit, before escalation" },
    boot: { kind: "string", meta: "FILE", description: "boot events for a fresh pier (a JSON array of {wen, ev})" },
    workTimeout: { kind: "duration", default: serfDefaults.workTimeoutMs, description: "longest a serf may take on its oldest writ before it counts as stuck (0: no limit)" },
    heartbeat: heartbeatFlag,
    maxRestarts: { kind: "count", default: serfDefaults.maxRestarts, min: 0, description: "serf deaths tolerated within --restart-window" },
    restartWindow: { kind: "duration", default: serfDefaults.restartWindowMs, description: "the window of --max-restarts" },
    ...serverFlags
  }
} as const satisfies Subcommand

export const pool = {
  name: "pool",
  usage: "liege pool [flags] -- CMD ARGS…",
  description: "Run a pool of request/response workers behind HTTP, with durable session jobs.",
  command: true,
  flags: {
    workers: {
      kind: "workers",
      default: availableParallelism(),
      shownDefault: `the CPU count, ${availableParallelism()} here`,
      description: "slots; a range MIN..MAX makes the pool elastic (grows while requests wait, shrinks after --idle-ttl idle)"
    },
    maxInFlight: { kind: "count", default: poolDefaults.maxInFlight, min: 1, description: "requests pipelined to one worker" },
    bootTimeout: { kind: "duration", default: poolDefaults.bootTimeoutMs, description: "ready handshake limit" },
    execTimeout: { kind: "duration", default: poolDefaults.execTimeoutMs, description: "per request; the worker is replaced" },
    maxJobs: { kind: "count", default: poolDefaults.maxJobs, min: 0, description: "recycle after N jobs (0: never)" },
    maxMemoryMb: { kind: "count", default: poolDefaults.maxMemoryMb, min: 0, description: "recycle above this resident size (0: never)" },
    ttl: { kind: "duration", description: "recycle by age" },
    idleTtl: { kind: "duration", description: `recycle by idleness; with a range of workers, let idle ones go down to MIN (${poolDefaults.elasticIdleTtlMs / 1000}s there unless given)` },
    maxQueue: { kind: "count", default: poolDefaults.maxQueue, min: 0, description: "waiting requests before Busy" },
    queueTimeout: { kind: "duration", description: "longest wait in the queue before Busy" },
    heartbeat: heartbeatFlag,
    maxRestarts: { kind: "count", default: poolDefaults.maxRestarts, min: 0, description: "worker failures tolerated within --restart-window" },
    restartWindow: { kind: "duration", default: poolDefaults.restartWindowMs, description: "the window of --max-restarts, and the failed pool's cool-down" },
    state: { kind: "string", default: serverDefaults.state, meta: "FILE", description: "SQLite file for durable session jobs (made by the first one)" },
    grace: { kind: "duration", default: poolDefaults.graceMs, description: "worker escalation windows" },
    ...serverFlags
  }
} as const satisfies Subcommand

/** What every cluster runner takes (SPEC §9). */
const runnerFlags = {
  database: {
    kind: "string",
    meta: "URL",
    description: "PostgreSQL: postgres://user@host:port/database (else LIEGE_DATABASE, else PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE; a URL without a password takes PGPASSWORD)"
  },
  runner: { kind: "listen", required: true, description: "this runner's address, as the other runners reach it" },
  idle: { kind: "duration", default: clusterDefaults.idleMs, description: "let a serf (a session) go after this long without requests" }
} as const satisfies Record<string, Flag>

export const clusterSerf = {
  name: "cluster serf",
  usage: "liege cluster serf --database URL --runner HOST:PORT --listen HOST:PORT [flags] -- CMD ARGS…",
  description: "Run one runner of a cluster of serfs: each serf, named by an id, lives on the runner that owns its shard.",
  command: true,
  flags: {
    ...runnerFlags,
    data: { kind: "string", default: clusterDefaults.data, meta: "DIR", description: "each serf's own folder is DIR/ID (its snapshots)" },
    maxInFlight: serf.flags.maxInFlight,
    batch: serf.flags.batch,
    bootTimeout: serf.flags.bootTimeout,
    stopGrace: serf.flags.stopGrace,
    boot: serf.flags.boot,
    workTimeout: serf.flags.workTimeout,
    heartbeat: serf.flags.heartbeat,
    maxRestarts: serf.flags.maxRestarts,
    restartWindow: serf.flags.restartWindow,
    ...serverFlags
  }
} as const satisfies Subcommand

export const clusterPool = {
  name: "cluster pool",
  usage: "liege cluster pool --database URL --runner HOST:PORT --listen HOST:PORT [flags] -- CMD ARGS…",
  description: "Run one runner of a cluster of session queues over this runner's own pool.",
  command: true,
  flags: {
    ...runnerFlags,
    workers: pool.flags.workers,
    maxInFlight: pool.flags.maxInFlight,
    bootTimeout: pool.flags.bootTimeout,
    execTimeout: pool.flags.execTimeout,
    maxJobs: pool.flags.maxJobs,
    maxMemoryMb: pool.flags.maxMemoryMb,
    ttl: pool.flags.ttl,
    idleTtl: pool.flags.idleTtl,
    maxQueue: pool.flags.maxQueue,
    heartbeat: pool.flags.heartbeat,
    maxRestarts: pool.flags.maxRestarts,
    restartWindow: pool.flags.restartWindow,
    grace: pool.flags.grace,
    ...serverFlags
  }
} as const satisfies Subcommand

export const subcommands = { run, serf, pool } as const

/** Flags accepted before the subcommand. */
export const root = {
  name: "",
  usage: "liege [--log-format pretty|json] <run|serf|pool|cluster serf|cluster pool> [flags] -- CMD ARGS…",
  description: "liege: supervised worker processes.",
  command: false,
  flags: { logFormat }
} as const satisfies Subcommand
