import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { heapLimitArguments } from "../scripts/heap-limit.js";

// Closer's processes as children, started the way `npm start` starts them (their compiled
// JavaScript from dist/, built by `npm run bench` first, on plain node), with their memory sampled
// from /proc.

export type Memory = { peakRssMb: number; hwmMb: number };

function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU time a process has used (user + system), from /proc/<pid>/stat; NaN when it is gone. */
export function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

export class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  private peakRssKb = 0;
  private hwmKb = 0;
  private readonly sampler: NodeJS.Timeout;
  private expectedExit = false;

  constructor(
    readonly name: string,
    entry: string,
    env: NodeJS.ProcessEnv,
    options: { cpuProfileDir?: string; ipc?: boolean } = {},
  ) {
    // One file per thread: the directory holds them all.
    const profile = options.cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
    // As `npm start` runs it (scripts/start.ts): the same heap limit.
    const node = [...heapLimitArguments(env), ...profile];
    this.process = spawn(process.execPath, [...node, `dist/${entry.replace(/\.ts$/, ".js")}`], {
      env: { ...env, CLOSER_PROCESS: name },
      stdio: ["ignore", "inherit", "inherit", ...(options.ipc ? (["ipc"] as const) : [])],
      // A process group of its own: Ctrl-C reaches the bench only, which stops its children in order.
      detached: true,
    });
    this.exited = new Promise((resolve) =>
      this.process.once("exit", (code, signal) => {
        clearInterval(this.sampler);
        if (!this.expectedExit) console.error(`${name} exited unexpectedly (${signal ?? code})`);
        resolve(code);
      }),
    );
    this.sampler = setInterval(() => this.sample(), 200);
    this.sampler.unref();
  }

  get pid(): number {
    return this.process.pid ?? 0;
  }

  /** True when the process ended without being asked to. */
  get crashed(): boolean {
    return !this.running && !this.expectedExit;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  private sample(): void {
    if (!this.running) return;
    this.peakRssKb = Math.max(this.peakRssKb, statusKb(this.pid, "VmRSS"));
    this.hwmKb = Math.max(this.hwmKb, statusKb(this.pid, "VmHWM"));
  }

  /** Resident memory now, in MB. */
  rssMb(): number {
    return Math.round(statusKb(this.pid, "VmRSS") / 1024);
  }

  /** Peak resident memory: the kernel's high-water mark, and the highest of our samples. */
  memory(): Memory {
    this.sample();
    return { peakRssMb: Math.round(this.peakRssKb / 1024), hwmMb: Math.round(this.hwmKb / 1024) };
  }

  /** CPU time the process has used so far (user + system). */
  cpuMs(): number {
    return procCpuMs(this.pid);
  }

  /** Resolves on the first IPC message (children started with `ipc`). */
  message(timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} sent nothing in ${timeoutMs} ms`)), timeoutMs);
      this.process.once("message", (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      void this.exited.then(() => reject(new Error(`${this.name} exited before it was ready`)));
    });
  }

  /** SIGTERM (Closer drains and exits), SIGKILL if it takes longer than `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    this.expectedExit = true;
    if (!this.running) return;
    this.sample();
    this.process.kill("SIGTERM");
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      console.error(`${this.name} did not stop in ${graceMs} ms: killing it`);
      this.process.kill("SIGKILL");
      await this.exited;
    }
  }

  /** Last resort when the bench itself exits: no waiting. */
  kill(): void {
    this.expectedExit = true;
    if (this.running) this.process.kill("SIGKILL");
  }
}

export async function waitForHttp(url: string, timeoutMs: number, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && !child.running) throw new Error(`${child.name} exited while starting`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not come up in ${timeoutMs} ms`);
}

/** Distinct free ports on 127.0.0.1: all are held open until each is known. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
