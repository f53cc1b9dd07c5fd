import type pg from "pg";
import { type Child, procCpuMs } from "./processes.js";

/** CPU milliseconds of Closer's processes measured, of this database's PostgreSQL backends, and of the bench process. */
export type Cpu = { server: number; postgres: number; bench: number };

/**
 * CPU used between start and stop. On a shared machine, CPU per request is steadier than
 * requests per second. PostgreSQL backends come and go with the pools, so they are polled:
 * one that appears meanwhile counts from zero, one that ends keeps its last reading.
 */
export class CpuMeter {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private polling: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly servers: Child[],
    private readonly server0: number,
    private readonly bench0: number,
  ) {
    this.timer = setInterval(() => {
      this.polling ??= this.poll()
        .catch(() => {}) // A reading missed: the next one covers it.
        .finally(() => {
          this.polling = null;
        });
    }, 250);
  }

  /** `servers`: the Closer processes doing the work measured (their CPU is summed). */
  static async start(pool: pg.Pool, servers: Child[]): Promise<CpuMeter> {
    const meter = new CpuMeter(pool, servers, serversCpuMs(servers), benchCpuMs());
    await meter.poll(true);
    return meter;
  }

  private async poll(initial = false): Promise<void> {
    const { rows } = await this.pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
    );
    for (const { pid } of rows) {
      const cpu = procCpuMs(pid);
      if (Number.isNaN(cpu)) continue;
      if (initial) this.first.set(pid, cpu);
      this.last.set(pid, cpu);
    }
  }

  /** CPU per unit of work since start. */
  async stop(units: number): Promise<Cpu> {
    clearInterval(this.timer);
    await this.polling;
    await this.poll();
    let postgres = 0;
    for (const [pid, cpu] of this.last) postgres += cpu - (this.first.get(pid) ?? 0);
    const per = (ms: number) => Math.round((ms / Math.max(1, units)) * 1000) / 1000;
    return {
      server: per(serversCpuMs(this.servers) - this.server0),
      postgres: per(postgres),
      bench: per(benchCpuMs() - this.bench0),
    };
  }
}

function serversCpuMs(servers: Child[]): number {
  return servers.reduce((sum, s) => sum + s.cpuMs(), 0);
}

function benchCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
