/**
 * Replay progress for people: a bar redrawn in place on a TTY, otherwise a
 * log line at the start, about once a second, and at the end.
 */
import type { LogPump } from "../internal/logpump.ts"
import type { ReplayStatus } from "../pier/pier.ts"

export const replayReporter = (log: LogPump, tty: NodeJS.WriteStream | undefined) => {
  let lastLine = 0
  return (s: ReplayStatus): void => {
    const pct = s.total === 0 ? 100 : Math.floor((s.done / s.total) * 100)
    const finished = s.done >= s.total
    if (tty !== undefined) {
      const width = 30
      const filled = Math.round((pct / 100) * width)
      tty.write(`\rreplay [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${pct}% ${s.done}/${s.total} events`)
      if (finished) tty.write("\n")
      return
    }
    const now = Date.now()
    if (s.done === 0 || finished || now - lastLine >= 1000) {
      lastLine = now
      log.line("Info", `replay: ${s.done}/${s.total} events (${pct}%), at event ${s.eve}`)
    }
  }
}
