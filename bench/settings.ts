// The bench's knobs, read from the environment once (README.md lists them with their defaults).

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};

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
  decisionRate: num("BENCH_DECISION_RATE", 200),
  decisionSeconds: 10,
  schedulerActions: num("BENCH_SCHEDULER_ACTIONS", 5_000),
  schedulerRate: num("BENCH_SCHEDULER_RATE", 1_000),
  schedulerPacedSeconds: 5,
  /** The whole run, cleanup included, stays under five minutes. */
  budgetSeconds: 285,
  databasePoolSize: 10,
};

export const ALL_SECTIONS = ["ingestion", "worker", "decision", "scheduler"];
export const sections = new Set((process.env.BENCH_SECTIONS ?? ALL_SECTIONS.join(",")).split(",").map((s) => s.trim()));
for (const s of sections) if (!ALL_SECTIONS.includes(s)) throw new Error(`BENCH_SECTIONS: unknown section ${s}`);

export type ProfileTarget = "api" | "worker" | "scheduler";
export const profileTarget = process.env.BENCH_PROFILE as ProfileTarget | undefined;
if (profileTarget && !["api", "worker", "scheduler"].includes(profileTarget)) {
  throw new Error("BENCH_PROFILE is one of api, worker, scheduler");
}
