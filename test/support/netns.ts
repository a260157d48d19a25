/**
 * Real network partitions for cluster tests: hosts in Linux network
 * namespaces, on two LANs of this machine, cut and healed with `ip link set
 * … down/up` (no iptables, no netem).
 *
 *   runners LAN  bridge lgr<id>, 10.X.1.0/24: this machine is 10.X.1.1;
 *                what runners (and the test's HTTP client) reach each other on
 *   database LAN bridge lgd<id>, 10.X.2.0/24: this machine is 10.X.2.1, where
 *                PostgreSQL listens (`listen` of test/support/postgres.ts)
 *
 * Host n (a namespace `lg<id>h<n>`) has an address on each LAN: 10.X.1.(10+n)
 * and 10.X.2.(10+n), through one veth pair per LAN whose outer end is a port
 * of the LAN's bridge. `cut("database")` takes the host's database port down,
 * `cut("runners")` its runners port, `cut("all")` both: frames on a port
 * that is down are dropped without a word, so the host's connections see
 * what they would see behind a partition (no answer, no reset); `heal()`
 * brings them up again.
 *
 * Everything made is written down in /tmp/liege-netns/<id> with the owner's
 * pid, and removed by `destroy()` — and, should the owner die before that,
 * by the next `makeNetwork()` on the machine. Processes started in a
 * namespace must be gone before `destroy()` (the test stops them; a namespace
 * with a process still in it outlives `ip netns del`, which `destroy()` then
 * kills and reports).
 */
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const REGISTRY = "/tmp/liege-netns"

const ip = (args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile("ip", [...args], { encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) reject(new Error(`ip ${args.join(" ")}: ${stderr.trim() || error.message}`))
      else resolve(stdout)
    })
  })

const ipSync = (args: ReadonlyArray<string>): boolean => {
  try {
    execFileSync("ip", [...args], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

interface Record {
  readonly owner: number
  readonly bridges: Array<string>
  readonly namespaces: Array<string>
}

const removeAll = (rec: Record): Array<string> => {
  const problems: Array<string> = []
  for (const ns of rec.namespaces) {
    const pids = (() => {
      try {
        return execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).trim()
      } catch {
        return ""
      }
    })()
    if (pids !== "") {
      // a test that failed before stopping them: they go now, and the failure says so
      problems.push(`namespace ${ns} still held processes ${pids.split("\n").join(", ")} (killed)`)
      for (const pid of pids.split("\n")) {
        try {
          process.kill(Number(pid), "SIGKILL")
        } catch {}
      }
    }
    ipSync(["netns", "del", ns])
  }
  for (const br of rec.bridges) ipSync(["link", "del", br])
  return problems
}

/** Removes what owners that died left behind. */
const sweep = () => {
  if (!fs.existsSync(REGISTRY)) return
  for (const name of fs.readdirSync(REGISTRY)) {
    const file = path.join(REGISTRY, name)
    try {
      const rec = JSON.parse(fs.readFileSync(file, "utf8")) as Record
      if (alive(rec.owner)) continue
      removeAll(rec)
      fs.rmSync(file, { force: true })
    } catch {
      fs.rmSync(file, { force: true })
    }
  }
}

/**
 * Why this machine cannot make what these tests need (undefined: it can):
 * not root, no `ip` (iproute2), or the kernel refuses a namespace, a veth
 * pair or a bridge (each is made and removed here to find out).
 */
export const unavailable = (): string | undefined => {
  if (process.getuid?.() !== 0) return "network namespaces need root"
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" })
  } catch {
    return "the ip command (iproute2) is missing"
  }
  const tag = (process.pid % 100000).toString(36)
  const [ns, veth, bridge] = [`lgprobe${tag}`, `lgpv${tag}`, `lgpb${tag}`]
  const steps: Array<[string, ReadonlyArray<string>]> = [
    ["ip netns add", ["netns", "add", ns]],
    ["ip link add type veth", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns]],
    ["ip link add type bridge", ["link", "add", bridge, "type", "bridge"]]
  ]
  try {
    for (const [what, args] of steps) {
      try {
        execFileSync("ip", [...args], { stdio: "pipe" })
      } catch (e) {
        return `${what} failed: ${String((e as { stderr?: unknown }).stderr ?? e).trim()}`
      }
    }
    return undefined
  } finally {
    ipSync(["link", "del", bridge])
    ipSync(["link", "del", veth])
    ipSync(["netns", "del", ns])
  }
}

export type Cut = "all" | "database" | "runners"

export interface NetHost {
  readonly n: number
  readonly namespace: string
  /** Its address on the runners LAN. */
  readonly address: string
  /** Its address on the database LAN. */
  readonly databaseAddress: string
  /** `command args` run inside the namespace: what to spawn. */
  readonly wrap: (command: string, args: ReadonlyArray<string>) => [string, Array<string>]
  readonly cut: (what: Cut) => Promise<void>
  readonly heal: () => Promise<void>
}

export interface Network {
  /** This machine on the runners LAN (the test's HTTP client is here). */
  readonly address: string
  /** This machine on the database LAN (PostgreSQL listens here). */
  readonly databaseAddress: string
  /** The database LAN, for pg_hba. */
  readonly databaseCidr: string
  readonly host: (n: number) => Promise<NetHost>
  /** Removes every namespace, veth and bridge made; rejects naming what was left inside. */
  readonly destroy: () => Promise<void>
}

const usedSubnets = (): Set<number> => {
  const out = execFileSync("ip", ["-4", "-o", "addr"], { encoding: "utf8" })
  const used = new Set<number>()
  for (const m of out.matchAll(/inet 10\.(\d+)\./g)) used.add(Number(m[1]))
  return used
}

export const makeNetwork = async (): Promise<Network> => {
  fs.mkdirSync(REGISTRY, { recursive: true })
  sweep()
  const id = `${(process.pid % 46656).toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.slice(0, 5)
  const used = usedSubnets()
  let x = 100 + Math.floor(Math.random() * 150)
  while (used.has(x)) x = 100 + ((x - 99) % 150)
  const rec: Record = { owner: process.pid, bridges: [], namespaces: [] }
  const file = path.join(REGISTRY, id)
  const save = () => fs.writeFileSync(file, JSON.stringify(rec))
  const lans = { runners: { bridge: `lgr${id}`, net: `10.${x}.1` }, database: { bridge: `lgd${id}`, net: `10.${x}.2` } } as const
  try {
    for (const lan of Object.values(lans)) {
      rec.bridges.push(lan.bridge)
      save()
      await ip(["link", "add", lan.bridge, "type", "bridge"])
      await ip(["addr", "add", `${lan.net}.1/24`, "dev", lan.bridge])
      await ip(["link", "set", lan.bridge, "up"])
    }
  } catch (e) {
    removeAll(rec)
    fs.rmSync(file, { force: true })
    throw e
  }
  const hosts = new Map<number, NetHost>()
  const host = async (n: number): Promise<NetHost> => {
    const known = hosts.get(n)
    if (known !== undefined) return known
    if (!Number.isInteger(n) || n < 0 || n > 200) throw new Error(`host number ${n}: 0 to 200`)
    const namespace = `lg${id}h${n}`
    rec.namespaces.push(namespace)
    save()
    await ip(["netns", "add", namespace])
    await ip(["-n", namespace, "link", "set", "lo", "up"])
    const ports = {} as { runners: string; database: string }
    for (const [which, lan] of Object.entries(lans) as Array<[keyof typeof lans, (typeof lans)[keyof typeof lans]]>) {
      const outer = `lg${id}${which[0]}${n}`
      const inner = which === "runners" ? "eth0" : "eth1"
      await ip(["link", "add", outer, "type", "veth", "peer", "name", inner, "netns", namespace])
      await ip(["link", "set", outer, "master", lan.bridge])
      await ip(["link", "set", outer, "up"])
      await ip(["-n", namespace, "addr", "add", `${lan.net}.${10 + n}/24`, "dev", inner])
      await ip(["-n", namespace, "link", "set", inner, "up"])
      ports[which] = outer
    }
    const set = (port: string, state: "up" | "down") => ip(["link", "set", port, state])
    const h: NetHost = {
      n,
      namespace,
      address: `${lans.runners.net}.${10 + n}`,
      databaseAddress: `${lans.database.net}.${10 + n}`,
      wrap: (command, args) => ["ip", ["netns", "exec", namespace, command, ...args]],
      cut: async (what) => {
        if (what !== "runners") await set(ports.database, "down")
        if (what !== "database") await set(ports.runners, "down")
      },
      heal: async () => {
        await set(ports.database, "up")
        await set(ports.runners, "up")
      }
    }
    hosts.set(n, h)
    return h
  }
  let destroyed = false
  return {
    address: `${lans.runners.net}.1`,
    databaseAddress: `${lans.database.net}.1`,
    databaseCidr: `${lans.database.net}.0/24`,
    host,
    destroy: async () => {
      if (destroyed) return
      destroyed = true
      const problems = removeAll(rec)
      fs.rmSync(file, { force: true })
      if (problems.length > 0) throw new Error(`netns: ${problems.join("; ")}`)
    }
  }
}
