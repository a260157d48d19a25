/**
 * The worker-side SDK: write a liege worker in Node (no Effect needed).
 */
export { connect, envCodec, type WorkerIo, type WorkerIoOptions } from "./io.ts"
