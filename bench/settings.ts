import type { Results } from "./report.js";

// The bench's knobs, read from the environment once (README.md lists them with their defaults).

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};

export const ALL_SECTIONS = ["ingestion", "worker", "decision", "scheduler", "soak"];
export const sections = new Set((process.env.BENCH_SECTIONS ?? ALL_SECTIONS.join(",")).split(",").map((s) => s.trim()));
for (const s of sections) if (!ALL_SECTIONS.includes(s)) throw new Error(`BENCH_SECTIONS: unknown section ${s}`);

const soakWarmupSeconds = 60;
const soakSeconds = num("BENCH_SOAK_SECONDS", 600);
/** The soak's warm-up and measurement, plus a minute for its set-up and the drain after it. */
const soakBudgetSeconds = sections.has("soak") ? soakWarmupSeconds + soakSeconds + 60 : 0;

export const settings = {
  seconds: num("BENCH_SECONDS", 10),
  warmupSeconds: 1.5,
  concurrency: num("BENCH_CONCURRENCY", 32),
  batchConcurrency: num("BENCH_BATCH_CONCURRENCY", 8),
  batchSize: 100,
  /** Caps on requests per measurement, whatever the duration. */
  maxSingleRequests: 20_000,
  maxBatchRequests: 2_000,
  backlog: num("BENCH_BACKLOG", 5_000),
  /**
   * Events/s standing in for the single-event baseline when ingestion does not run: event to
   * decision and the soak offer shares of it (1,200/s: a typical baseline on the 2-core
   * development machine, bench/FINDINGS.md).
   */
  referenceRate: num("BENCH_DECISION_RATE", 1_200),
  decisionSeconds: 10,
  schedulerActions: num("BENCH_SCHEDULER_ACTIONS", 5_000),
  /** The paced scheduler run lasts this long, at half the scheduler baseline's rate. */
  schedulerPacedSeconds: 5,
  /** The soak offers this share of the reference rate, for soakSeconds after soakWarmupSeconds. */
  soakShare: 0.25,
  soakWarmupSeconds,
  soakSeconds,
  /** Resident memory of each child is read this often during the soak. */
  soakSampleSeconds: 5,
  soakBudgetSeconds,
  /**
   * The whole run, cleanup included: about 7 minutes for the sections before the soak at their
   * longest waits, and the soak's own time.
   */
  budgetSeconds: 420 + soakBudgetSeconds,
  databasePoolSize: 10,
};

/**
 * The rate event to decision and the soak take their shares of: the single-event baseline of
 * this run, else BENCH_DECISION_RATE standing in for it.
 */
export function referenceRate(results: Pick<Results, "ingestion">): { perSecond: number; source: string } {
  const baseline = results.ingestion.single?.baseline.eventsPerSecond;
  return baseline
    ? { perSecond: baseline, source: "the single-event baseline" }
    : { perSecond: settings.referenceRate, source: "BENCH_DECISION_RATE (ingestion did not run)" };
}

export type ProfileTarget = "api" | "worker" | "scheduler";
export const profileTarget = process.env.BENCH_PROFILE as ProfileTarget | undefined;
if (profileTarget && !["api", "worker", "scheduler"].includes(profileTarget)) {
  throw new Error("BENCH_PROFILE is one of api, worker, scheduler");
}
