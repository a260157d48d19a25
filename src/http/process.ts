/**
 * The usual process metrics (SPEC §8), named as Prometheus client libraries
 * name them, read when `/metrics` is scraped.
 */
import * as fs from "node:fs"
import type { Family } from "./prometheus.ts"

const startTime = (Date.now() - process.uptime() * 1000) / 1000

const openFds = (): number | undefined => {
  try {
    return fs.readdirSync("/proc/self/fd").length - 1 // the listing's own descriptor
  } catch {
    return undefined
  }
}

const maxFds = (): number | undefined => {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync("/proc/self/limits", "utf8"))
    return m === null ? undefined : Number(m[1])
  } catch {
    return undefined
  }
}

const gauge = (name: string, help: string, value: number | undefined): ReadonlyArray<Family> =>
  value === undefined ? [] : [{ name, help, type: "gauge", samples: [{ value }] }]

export const processFamilies = (): ReadonlyArray<Family> => {
  const cpu = process.cpuUsage()
  const memory = process.memoryUsage()
  return [
    { name: "process_cpu_seconds_total", help: "user and system CPU time spent, in seconds", type: "counter", samples: [{ value: (cpu.user + cpu.system) / 1e6 }] },
    ...gauge("process_resident_memory_bytes", "resident memory size in bytes", memory.rss),
    ...gauge("process_start_time_seconds", "start time of the process since the Unix epoch, in seconds", startTime),
    ...gauge("process_open_fds", "open file descriptors", openFds()),
    ...gauge("process_max_fds", "maximum number of open file descriptors", maxFds()),
    ...gauge("nodejs_heap_size_total_bytes", "V8 heap size in bytes", memory.heapTotal),
    ...gauge("nodejs_heap_size_used_bytes", "V8 heap in use, in bytes", memory.heapUsed),
    ...gauge("nodejs_external_memory_bytes", "memory held outside the V8 heap (buffers), in bytes", memory.external)
  ]
}
