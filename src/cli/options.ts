/**
 * A pool's or a pier's options from the flags of the subcommands that run
 * one (`liege pool` and `liege cluster pool`; `liege serf` and `liege
 * cluster serf`).
 */
import type { PierOptions } from "../pier/pier.ts"
import type { PoolOptions } from "../pool/pool.ts"
import type { Event } from "../serf/protocol.ts"
import type { Values } from "./args.ts"
import type { pool, serf } from "./commands.ts"

type PoolFlags = Omit<Values<typeof pool.flags>, "state" | "listen" | "token" | "drain" | "maxBody" | "maxDepth" | "logFormat">

export const poolOptions = (flags: PoolFlags, command: string, args: ReadonlyArray<string>): PoolOptions => ({
  command,
  args,
  codec: flags.codec,
  maxFrameBytes: flags.maxFrameBytes,
  workers: flags.workers,
  maxInFlight: flags.maxInFlight,
  bootTimeout: flags.bootTimeout,
  execTimeout: flags.execTimeout,
  maxJobs: flags.maxJobs,
  maxMemoryMb: flags.maxMemoryMb,
  ...(flags.ttl === undefined ? {} : { ttl: flags.ttl }),
  ...(flags.idleTtl === undefined ? {} : { idleTtl: flags.idleTtl }),
  maxQueue: flags.maxQueue,
  ...(flags.queueTimeout === undefined ? {} : { queueTimeout: flags.queueTimeout }),
  ...(flags.heartbeat === undefined ? {} : { heartbeat: flags.heartbeat }),
  maxRestarts: flags.maxRestarts,
  restartWindow: flags.restartWindow,
  grace: flags.grace
})

type SerfFlags = Omit<Values<typeof serf.flags>, "pier" | "boot" | "listen" | "token" | "drain" | "maxBody" | "maxDepth" | "logFormat">

export const pierOptions = (
  flags: SerfFlags,
  dir: string,
  command: string,
  args: ReadonlyArray<string>,
  boot: ReadonlyArray<typeof Event.Type> | undefined
): PierOptions => ({
  dir,
  command,
  args,
  codec: flags.codec,
  maxFrameBytes: flags.maxFrameBytes,
  bootTimeout: flags.bootTimeout,
  stopGrace: flags.stopGrace,
  maxInFlight: flags.maxInFlight,
  batchSize: flags.batch,
  workTimeout: flags.workTimeout,
  ...(flags.heartbeat === undefined ? {} : { heartbeat: flags.heartbeat }),
  maxRestarts: flags.maxRestarts,
  restartWindow: flags.restartWindow,
  ...(boot === undefined ? {} : { boot })
})
