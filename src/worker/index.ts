/**
 * The worker-side SDK: write a liege worker or serf in Node (no Effect needed).
 */
export { connect, envCodec, type WorkerIo, type WorkerIoOptions } from "./io.ts"
export { type Goof, goofOf, type PokeContext, runSerf, type SerfDefinition } from "./serf.ts"
export { Fail, type Handler, type RequestContext, runWorker } from "./pool.ts"
