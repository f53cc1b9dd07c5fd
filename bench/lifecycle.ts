import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Child, Memory } from "./processes.js";

// One run of the bench: its clock and log, its time budget, the child processes it started and
// what it created. Whatever ends the run (the end, a failure, Ctrl-C, the budget running out),
// the children are stopped and every cleanup runs, once.

export class BenchRun {
  readonly started = Date.now();
  /** Names the run's database, Redis prefix and profiles. */
  readonly id =
    `${new Date(this.started).toISOString().replace(/\D/g, "").slice(0, 14)}_${randomBytes(3).toString("hex")}`;
  readonly children: Child[] = [];
  /**
   * Time held back for a later section (the soak): the sections before it see that much less
   * remaining, so their waits cannot eat into it. The soak gives it back when it starts.
   */
  reservedMs = 0;
  /** Aborted when the run is being stopped: loops end, the next section check throws. */
  readonly stopping = new AbortController();
  private readonly cleanups: { name: string; run: () => Promise<unknown> }[] = [];
  private cleaning: Promise<void> | undefined;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly budgetSeconds: number) {}

  remainingMs(): number {
    return this.budgetSeconds * 1000 - (Date.now() - this.started) - this.reservedMs;
  }

  log(message: string): void {
    console.log(`[bench ${((Date.now() - this.started) / 1000).toFixed(1).padStart(5)} s] ${message}`);
  }

  /** Resident memory of the running children, for the log. */
  rss(): string {
    return `RSS ${this.children
      .filter((c) => c.running)
      .map((c) => `${c.name.replace("closer-", "")} ${c.rssMb()} MB`)
      .join(", ")}`;
  }

  /**
   * Peak memory by role (the child's name without "closer-"): the highest of every process that
   * held the role, as the worker is stopped and started again around the scheduler baseline.
   */
  memory(): Record<string, Memory> {
    const byRole: Record<string, Memory> = {};
    for (const child of this.children) {
      const role = child.name.replace("closer-", "");
      const m = child.memory();
      const seen = byRole[role];
      byRole[role] = seen
        ? { peakRssMb: Math.max(seen.peakRssMb, m.peakRssMb), hwmMb: Math.max(seen.hwmMb, m.hwmMb) }
        : m;
    }
    return byRole;
  }

  /** Something to undo at the end; cleanups run in the reverse order of their registration. */
  onCleanup(name: string, run: () => Promise<unknown>): void {
    this.cleanups.push({ name, run });
  }

  /** Stops the children, then runs the cleanups in reverse order; every caller waits for the one run. */
  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      await Promise.all(this.children.map((c) => c.stop().catch(() => c.kill())));
      for (const { name, run } of this.cleanups.reverse()) {
        try {
          await Promise.race([run(), sleep(15_000).then(() => Promise.reject(new Error("timed out")))]);
        } catch (error) {
          console.error(`cleanup "${name}" failed: ${(error as Error).message}`);
        }
      }
    })();
    return this.cleaning;
  }

  checkNotAborted(): void {
    if (this.stopping.signal.aborted) throw new Error("aborted");
    const crashed = this.children.find((c) => c.crashed);
    if (crashed) throw new Error(`${crashed.name} exited during the run`);
  }

  /** Stops everything and exits, once, whatever asked for it. */
  abort(reason: string, code: number): void {
    this.stopping.abort();
    if (this.cleaning) return; // The run is already cleaning up and will exit.
    console.error(`\n${reason}: stopping the children and dropping the bench database`);
    this.cleanup().finally(() => process.exit(code));
  }

  /** Aborts the run on Ctrl-C, SIGTERM, an uncaught error, or once over the budget; kills the children on exit. */
  guard(): void {
    process.on("exit", () => {
      for (const child of this.children) child.kill();
    });
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => this.abort(signal, 130));
    process.on("uncaughtException", (error) => this.abort(`uncaught ${error.stack ?? error}`, 1));
    process.on("unhandledRejection", (error) => this.abort(`unhandled ${(error as Error)?.stack ?? error}`, 1));
    this.watchdog = setTimeout(
      () => this.abort(`over the ${this.budgetSeconds} s budget`, 2),
      (this.budgetSeconds + 10) * 1000,
    );
    this.watchdog.unref();
  }

  /** The run is over (cleaned up): the budget no longer applies. */
  disarm(): void {
    clearTimeout(this.watchdog);
  }
}
