/**
 * The flags of every subcommand (SPEC §8), as data: the parser, the help
 * text and the programs all read these. Nothing here loads Effect.
 */
import { availableParallelism } from "node:os"
import type { Flag, Subcommand } from "./args.ts"

const logFormat = {
  kind: "choice",
  choices: ["pretty", "json"],
  description: "log lines on stderr (default: pretty on a TTY, json otherwise)"
} as const satisfies Flag

/** The flags both servers take (`liege serf`, `liege pool`). */
const serverFlags = {
  listen: { kind: "listen", default: "127.0.0.1:7070", description: "HTTP address (port 0: any free port, printed)" },
  token: { kind: "string", meta: "T", description: "require Authorization: Bearer T (every route but /healthz)" },
  drain: { kind: "duration", default: "30s", description: "on SIGTERM: time to answer what was accepted" },
  codec: { kind: "choice", choices: ["json", "msgpack"], default: "json", description: "wire codec" },
  maxFrameBytes: { kind: "count", default: 64 * 1024 * 1024, min: 1, description: "largest frame accepted from a worker" },
  maxBody: { kind: "count", default: 1024 * 1024, min: 1, description: "largest request body in bytes (413 above)" },
  maxDepth: { kind: "count", default: 128, min: 1, description: "deepest nesting of arrays and objects in a JSON body" },
  logFormat
} as const satisfies Record<string, Flag>

export const run = {
  name: "run",
  usage: "liege run [flags] -- CMD ARGS…",
  description: "Run one supervised process: its stdout and stderr pass through, its exit status is liege's.",
  command: true,
  flags: {
    grace: { kind: "duration", default: "5s", description: "natural-exit and SIGTERM windows" },
    killWait: { kind: "duration", default: "1s", description: "wait after SIGKILL" },
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
    maxInFlight: { kind: "count", default: 10, min: 1, description: "work writs outstanding" },
    batch: { kind: "count", default: 1000, min: 1, description: "replay batch size" },
    bootTimeout: { kind: "duration", default: "30s", description: "ripe handshake limit" },
    stopGrace: { kind: "duration", default: "2s", description: "after exit, before escalation" },
    boot: { kind: "string", meta: "FILE", description: "boot events for a fresh pier (a JSON array of {wen, ev})" },
    maxRestarts: { kind: "count", default: 10, min: 0, description: "serf deaths tolerated within --restart-window" },
    restartWindow: { kind: "duration", default: "60s", description: "the window of --max-restarts" },
    ...serverFlags
  }
} as const satisfies Subcommand

export const pool = {
  name: "pool",
  usage: "liege pool [flags] -- CMD ARGS…",
  description: "Run a pool of request/response workers behind HTTP, with durable session jobs.",
  command: true,
  flags: {
    workers: { kind: "count", default: availableParallelism(), min: 1, description: "slots (default: CPU count)" },
    maxInFlight: { kind: "count", default: 1, min: 1, description: "requests pipelined to one worker" },
    bootTimeout: { kind: "duration", default: "10s", description: "ready handshake limit" },
    execTimeout: { kind: "duration", default: "30s", description: "per request; the worker is replaced" },
    maxJobs: { kind: "count", default: 0, min: 0, description: "recycle after N jobs (0: never)" },
    maxMemoryMb: { kind: "count", default: 0, min: 0, description: "recycle above this resident size (0: never)" },
    ttl: { kind: "duration", description: "recycle by age" },
    idleTtl: { kind: "duration", description: "recycle by idleness" },
    maxQueue: { kind: "count", default: 1024, min: 0, description: "waiting requests before Busy" },
    maxRestarts: { kind: "count", default: 10, min: 0, description: "worker failures tolerated within --restart-window" },
    restartWindow: { kind: "duration", default: "60s", description: "the window of --max-restarts, and the failed pool's cool-down" },
    state: { kind: "string", default: "liege-state.db", meta: "FILE", description: "SQLite file for durable session jobs" },
    grace: { kind: "duration", default: "5s", description: "worker escalation windows" },
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
  idle: { kind: "duration", default: "5m", description: "let a serf (a session) go after this long without requests" }
} as const satisfies Record<string, Flag>

export const clusterSerf = {
  name: "cluster serf",
  usage: "liege cluster serf --database URL --runner HOST:PORT --listen HOST:PORT [flags] -- CMD ARGS…",
  description: "Run one runner of a cluster of serfs: each serf, named by an id, lives on the runner that owns its shard.",
  command: true,
  flags: {
    ...runnerFlags,
    data: { kind: "string", default: "./data/cluster", meta: "DIR", description: "each serf's own folder is DIR/ID (its snapshots)" },
    maxInFlight: serf.flags.maxInFlight,
    batch: serf.flags.batch,
    bootTimeout: serf.flags.bootTimeout,
    stopGrace: serf.flags.stopGrace,
    boot: serf.flags.boot,
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
