// `npm run bench`: Closer's performance on this machine, each ingestion figure beside a plain-pg
// baseline measured in the same run. Fresh database and Redis prefix; the API and the worker run
// as child processes the way `npm start` runs them; everything is removed at the end, also on
// failure. Results: bench/results/<timestamp>.json, latest.json and latest.md.
//
// Knobs (environment, settings.ts): BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_BATCH_CONCURRENCY,
// BENCH_BACKLOG, BENCH_DECISION_RATE, BENCH_SCHEDULER_ACTIONS, BENCH_SOAK_SECONDS, BENCH_SECTIONS
// (comma list of ingestion,worker,decision,scheduler,soak), BENCH_PROFILE (api|worker|scheduler:
// --cpu-prof on that child, summarised at the end), BENCH_DATABASE_URL (server to create the
// database on). Each section is a module of sections/; closer.ts starts what they measure.
import { type Closer, profileDir, startCloser } from "./closer.js";
import { BenchRun } from "./lifecycle.js";
import { formatSummary, mainThreadProfile, summarizeProfile } from "./profile-summary.js";
import { type Results, table, writeResults } from "./report.js";
import { benchDecision } from "./sections/decision.js";
import { benchIngestion } from "./sections/ingestion.js";
import { benchScheduler } from "./sections/scheduler.js";
import { benchSoak } from "./sections/soak.js";
import { benchWorker } from "./sections/worker.js";
import { ALL_SECTIONS, profileTarget, sections, settings } from "./settings.js";
import { targets } from "./targets.js";

/** In the order they run: ingestion first, while the worker is still stopped; the soak last. */
const SECTIONS: [string, (closer: Closer, results: Results) => Promise<void>][] = [
  ["ingestion", benchIngestion],
  ["worker", benchWorker],
  ["decision", benchDecision],
  ["scheduler", benchScheduler],
  ["soak", benchSoak],
];

const run = new BenchRun(settings.budgetSeconds);
run.guard();
const results: Results = {
  startedAt: new Date(run.started).toISOString(),
  durationS: 0,
  complete: false,
  machine: {},
  settings: { ...settings, sections: [...sections] },
  notes: [],
  ingestion: {},
  memory: {},
  targets: [],
};

// The soak's time is held back from the sections before it (their waits stop short of it).
run.reservedMs = settings.soakBudgetSeconds * 1000;
try {
  const closer = await startCloser(run, results);
  for (const [name, section] of SECTIONS) {
    run.checkNotAborted();
    if (sections.has(name)) await section(closer, results);
  }
  results.complete = true;
} catch (error) {
  results.failure = (error as Error).stack ?? String(error);
  console.error(`bench failed: ${results.failure}`);
  process.exitCode = 1;
} finally {
  await run.cleanup();
  results.memory = run.memory();
  run.disarm();
}

results.durationS = Math.round((Date.now() - run.started) / 1000);
results.targets = targets(results);
results.notes.push(
  "Ingestion is measured with the worker stopped (its jobs queue up in Redis): the API and the baseline each have the database to themselves.",
  `Baseline: the same rows written with plain pg (consumer lookup/insert, event insert, the context upsert with closer_add_counters/closer_next_stage), one transaction per request, pool of ${settings.databasePoolSize} like the API.`,
  "Latencies are measured by the client from sending the request; event to decision runs from sending the ingestEvent mutation to receiving that event's agentDecisions message.",
  "Scheduler runs use default SCHEDULER_* and DELIVERY_CONCURRENCY settings; provider send-rate limits are raised so they do not cap the result.",
  "Peak RSS: the highest VmRSS sampled every 200 ms, or VmHWM, of each process over the whole run (the worker's over each of its starts).",
  "Load generator, API, worker, PostgreSQL and Redis share the same machine.",
);
if (results.failure) results.failure = results.failure.split("\n")[0];
const fullRun = ALL_SECTIONS.every((s) => sections.has(s));
const written = writeResults(results, results.complete && fullRun);
console.log(`\n${table(results)}\n`);
for (const note of results.notes) console.log(`- ${note}`);
if (results.failure) console.log(`\nINCOMPLETE RUN (latest.json and latest.md left as they were): ${results.failure}`);
else if (!fullRun) console.log("\nSome sections only: latest.json and latest.md left as they were.");
console.log(`\nwritten: ${written.join(", ")}`);

if (profileTarget) {
  const main = mainThreadProfile(`${profileDir}closer-${profileTarget}-${run.id}/`);
  if (main) {
    console.log(`\nCPU profile of the ${profileTarget} (open in Chrome DevTools or speedscope): ${main}`);
    console.log(formatSummary(summarizeProfile(main, 30)));
  } else {
    console.log(`\nno CPU profile of the ${profileTarget} was written`);
  }
}

// Every connection is closed by now; an exit also covers handles a library left open.
process.exit(process.exitCode ?? 0);
