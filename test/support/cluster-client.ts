/**
 * A client-only member of a liege cluster, in the test's process: it sends
 * entity messages through the cluster as a runner's HTTP front does.
 */
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import { Layer, Redacted } from "effect"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import { clientProtocol, database, timing } from "../../src/cluster/runner.ts"

export const clusterClientLayer = (url: string) =>
  Layer.provide(SocketRunner.layerClientOnly, clientProtocol).pipe(
    Layer.provideMerge(SqlMessageStorage.layer.pipe(Layer.provide(NodeCrypto.layerDigest))),
    Layer.provide(Layer.orDie(SqlRunnerStorage.layer)),
    Layer.provide(ShardingConfig.layer({ ...timing })),
    Layer.provide(RpcSerialization.layerSchemaBinary()),
    Layer.provide(database({ url: Redacted.make(url) }))
  )
