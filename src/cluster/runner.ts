/**
 * One runner of a liege cluster (SPEC §9): `effect/cluster` sharding with
 * runners talking over TCP sockets, runner and message storage in
 * PostgreSQL, health by ping. Assembled here from the cluster's own parts
 * rather than `@effect/platform-node`'s `NodeClusterSocket.layer`, which
 * also loads a Kubernetes client and an HTTP client that liege never uses,
 * and reads `HOST`/`PORT` from the environment.
 *
 * Where the time goes when a runner is lost (SPEC §9: a serf answers again
 * within 5 s of the loss of its runner, plus its replay):
 *
 * - its heartbeat stops: the others drop it from the shard assignments once
 *   it is older than the lock expiry (2 s; assignments are read every
 *   500 ms);
 * - its shard locks are PostgreSQL advisory locks held by one session whose
 *   `idle_session_timeout` is the lock expiry: the server ends that session,
 *   and frees the locks, 2 s after the runner's last statement; the new
 *   owner's acquisition loop takes them within about a second;
 * - requests already sent to it over a socket that went silent fail when no
 *   frame came back for `PING.timeout` (2 s, pinged every 500 ms; the
 *   socket's own default is 5 s, pinged every 5 s, which left callers
 *   waiting 7–8 s), and the cluster sends them again to the new owner.
 *
 * Measured with real partitions (test/cluster/partition.test.ts): 2.2–2.6 s
 * after a full cut or a database-only cut, plus the replay (it was 7–8.6 s
 * after a full cut with the 5 s pings).
 */
import * as NodeSocket from "@effect/platform-node-shared/NodeSocket"
import { layerSocketServer } from "@effect/platform-node-shared/NodeClusterSocket"
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option } from "effect"
import { RunnerAddress } from "effect/cluster"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as RpcClient from "effect/rpc/RpcClient"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import { Socket } from "effect/socket/Socket"
import type { Listen } from "../cli/args.ts"

/** The shard lock expiry: how long a runner that went silent keeps its shards. */
export const LOCK_EXPIRY_MS = 2000

/** The timings every runner of a cluster shares. */
export const timing = {
  shardLockRefreshInterval: "650 millis",
  shardLockExpiration: `${LOCK_EXPIRY_MS} millis`,
  refreshAssignmentsInterval: "500 millis",
  runnerHealthCheckInterval: "1 second",
  entityMessagePollInterval: "1 second",
  sendRetryInterval: "50 millis",
  // local messages are passed as they are (ours are strings and numbers): no round trip through the codec
  simulateRemoteSerialization: false
} as const

/**
 * Liveness of a connection to another runner: a ping every `interval`; no
 * frame at all for `timeout` and the connection is dropped, failing the
 * requests sent on it (the cluster sends them again to the shard's owner).
 */
export const PING = { interval: "500 millis", timeout: `${LOCK_EXPIRY_MS} millis` } as const

export interface RunnerOptions {
  /** This runner's address, as the other runners reach it. */
  readonly runner: Listen
}

/** The PostgreSQL client of a runner (the cluster's tables, the serfs' logs, the session jobs). */
export const database = (config: PgClient.PgPoolConfig) =>
  PgClient.layer({ maxConnections: 8, connectTimeout: "5 seconds", ...config })

/**
 * Connections to other runners: TCP sockets carrying the runners' RPC, with
 * the pings above (what `NodeClusterSocket.layerClientProtocol` does, with
 * its 5 s defaults).
 */
export const clientProtocol: Layer.Layer<Runners.RpcClientProtocol, never, RpcSerialization.RpcSerialization> = Layer.effect(
  Runners.RpcClientProtocol,
  Effect.gen(function*() {
    const serialization = yield* RpcSerialization.RpcSerialization
    return Runners.RpcClientProtocol.of({
      codecFor: serialization.codecFor,
      make: (address) =>
        Effect.gen(function*() {
          const socket = yield* NodeSocket.makeNet({ openTimeout: 1000, host: address.host, port: address.port })
          return yield* RpcClient.makeProtocolSocket({ pingInterval: PING.interval, pingTimeout: PING.timeout }).pipe(
            Effect.provideService(Socket, socket),
            Effect.provideService(RpcSerialization.RpcSerialization, serialization)
          )
        })
    })
  })
)

/**
 * Sharding, runners and storage for one runner process. The cluster's
 * tables must exist (./schema.ts `migrateCluster`): this layer creates none.
 */
export const layer = (options: RunnerOptions) => {
  const config = ShardingConfig.layer({
    ...timing,
    runnerAddress: Option.some(RunnerAddress.make(options.runner.host, options.runner.port)),
    runnerListenAddress: Option.none()
  })
  const transport = Layer.provide(SocketRunner.layer, [layerSocketServer, clientProtocol])
  const health = RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(clientProtocol))
  return transport.pipe(
    Layer.provide(health),
    Layer.provideMerge(SqlMessageStorage.layerStorage({}).pipe(Layer.provide(NodeCrypto.layerDigest))),
    Layer.provide(SqlRunnerStorage.layerStorage({})),
    Layer.provide(config),
    Layer.provide(RpcSerialization.layerSchemaBinary())
  )
}
