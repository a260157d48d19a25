/**
 * A pool worker that ignores SIGTERM and does not leave when its stdin ends:
 * only SIGKILL stops it (for the parallel-shutdown bench).
 */
import { connect } from "../../src/worker/io.ts"

process.on("SIGTERM", () => {})
process.stdin.on("end", () => {})
const io = connect({ onMessage: () => {}, onEnd: () => new Promise(() => {}) })
io.send({ t: "ready", pro: 1 })
setInterval(() => {}, 1 << 30)
