/**
 * One runner of a liege cluster (SPEC §9): `effect/cluster` sharding with
 * runners talking over TCP sockets, runner and message storage in
 * PostgreSQL, health by ping. Assembled here from the cluster's own parts
 * rather than `@effect/platform-node`'s `NodeClusterSocket.layer`, which
 * also loads a Kubernetes client and an HTTP client that liege never uses,
 * and reads `HOST`/`PORT` from the environment.
 *
 * Timings: a runner that dies loses its shards when its locks expire (2 s);
 * assignments are refreshed every 500 ms and runners pinged every second,
 * so a serf answers again on another runner within about 2–3 s of the loss
 * of its own (measured in bench/cluster.ts), plus its replay.
 */
import { layerClientProtocol, layerSocketServer } from "@effect/platform-node-shared/NodeClusterSocket"
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import { PgClient } from "@effect/sql-pg"
import { Layer, Option, Redacted } from "effect"
import { RunnerAddress } from "effect/cluster"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import type { Listen } from "../cli/args.ts"

/** The timings every runner of a cluster shares. */
export const timing = {
  shardLockRefreshInterval: "650 millis",
  shardLockExpiration: "2 seconds",
  refreshAssignmentsInterval: "500 millis",
  runnerHealthCheckInterval: "1 second",
  entityMessagePollInterval: "1 second",
  sendRetryInterval: "50 millis",
  // local messages are passed as they are (ours are strings and numbers): no round trip through the codec
  simulateRemoteSerialization: false
} as const

export interface RunnerOptions {
  /** `postgres://user@host:port/database` */
  readonly database: string
  /** This runner's address, as the other runners reach it. */
  readonly runner: Listen
}

/** The PostgreSQL client of a runner (the cluster's tables, the serfs' logs, the session jobs). */
export const database = (url: string) =>
  PgClient.layer({ url: Redacted.make(url), maxConnections: 8, connectTimeout: "5 seconds" })

/** Sharding, runners and storage for one runner process. */
export const layer = (options: RunnerOptions) => {
  const config = ShardingConfig.layer({
    ...timing,
    runnerAddress: Option.some(RunnerAddress.make(options.runner.host, options.runner.port)),
    runnerListenAddress: Option.none()
  })
  const transport = Layer.provide(SocketRunner.layer, [layerSocketServer, layerClientProtocol])
  const health = RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(layerClientProtocol))
  return transport.pipe(
    Layer.provide(health),
    Layer.provideMerge(SqlMessageStorage.layer.pipe(Layer.provide(NodeCrypto.layerDigest))),
    Layer.provide(Layer.orDie(SqlRunnerStorage.layer)),
    Layer.provide(config),
    Layer.provide(RpcSerialization.layerSchemaBinary())
  )
}
