import type { Results, Target } from "./report.js";

// What each figure is held against (issue 16's goals: ratios to a baseline measured in the same
// run, latencies and memory), and whether it met it. Absolute figures stay in the values, as
// information.

/** Event to decision runs at these shares of the single-event baseline rate, each with its p99 (goal 5). */
export const DECISION_TARGETS = [
  { share: 0.25, p99Ms: 100 },
  { share: 0.5, p99Ms: 250 },
];

/** Peak resident memory of each process under load (goal 6). */
export const MAX_RSS_MB = 250;
/** "No growth" over the soak (goal 6; sections/soak.ts says why these). */
export const SOAK_MAX_SLOPE_MB_PER_MIN = 1;
export const SOAK_MAX_END_RATIO = 1.1;

const n = (v: number) => Math.round(v).toLocaleString("en-US");

export function targets(r: Results): Target[] {
  const out: Target[] = [];
  const add = (figure: string, target: string, value: string, met: boolean | null) =>
    out.push({ figure, target, value, met });
  const { single, batched } = r.ingestion;
  const singleBaseline = single?.baseline.eventsPerSecond;
  // Goal 2: throughput ratios, and p99 latency within 2x of the baseline's.
  for (const [name, pair, min] of [
    ["single", single, 0.7],
    ["batched", batched, 0.85],
  ] as const) {
    if (!pair) continue;
    const { closer, baseline } = pair;
    const value = `${pair.ratio}x (${n(closer.eventsPerSecond)} of ${n(baseline.eventsPerSecond)} events/s)`;
    add(`${name} ratio`, `>= ${min}x baseline`, value, pair.ratio >= min && closer.errors === 0);
    const p99Ratio = closer.latencyMs.p99 / baseline.latencyMs.p99;
    add(
      `${name} p99 ratio`,
      "p99 <= 2x baseline's",
      `${p99Ratio.toFixed(2)}x (${closer.latencyMs.p99} ms vs ${baseline.latencyMs.p99} ms)`,
      p99Ratio <= 2,
    );
  }
  // Goal 3: the worker keeps up with ingestion at the baseline's single-event rate.
  if (r.worker) {
    const w = r.worker;
    const value = singleBaseline
      ? `${(w.invocationsPerSecond / singleBaseline).toFixed(2)}x (${n(w.invocationsPerSecond)} invocations/s vs ${n(singleBaseline)} events/s)`
      : `${n(w.invocationsPerSecond)} invocations/s (ratio unavailable: ingestion did not run)`;
    const met = singleBaseline ? w.invocationsPerSecond >= singleBaseline && w.complete : null;
    add("worker ratio", ">= 1.0x single-event baseline", value, met);
  }
  // Goal 5.
  for (const d of r.decision ?? []) {
    const limit = DECISION_TARGETS.find((t) => t.share === d.share)?.p99Ms ?? Number.NaN;
    const value = `${d.latencyMs.p99} ms at ${n(d.offeredPerSecond)}/s${d.missing ? ` (${d.missing} decisions missing)` : ""}`;
    const complete = d.missing === 0 && d.ingestErrors === 0;
    add(`decision p99 at ${d.share * 100} %`, `<= ${limit} ms`, value, d.latencyMs.p99 <= limit && complete);
  }
  // Goal 4.
  if (r.scheduler) {
    const { baseline, burst, paced } = r.scheduler;
    add(
      "scheduler ratio",
      ">= 0.7x baseline",
      `${r.scheduler.ratio}x (${n(burst.actionsPerSecond)} of ${n(baseline.actionsPerSecond)} actions/s)`,
      r.scheduler.ratio >= 0.7 && burst.sent === burst.actions,
    );
    const value = `${paced.latenessMs.p99} ms at ${n(paced.offeredPerSecond ?? 0)}/s${paced.pending ? ` (${paced.pending} never sent)` : ""}`;
    add(
      "scheduler lateness p99",
      "<= 1,000 ms at half the baseline's rate",
      value,
      paced.latenessMs.p99 <= 1000 && paced.pending === 0,
    );
  }
  // Goal 6.
  for (const [role, m] of Object.entries(r.memory)) {
    const peak = Math.max(m.hwmMb, m.peakRssMb);
    add(`peak RSS ${role}`, `<= ${MAX_RSS_MB} MB`, `${n(peak)} MB`, peak <= MAX_RSS_MB);
  }
  for (const [role, m] of Object.entries(r.soak?.processes ?? {})) {
    const growth = m.endMb / m.startMb;
    add(
      `soak growth ${role}`,
      `<= ${SOAK_MAX_SLOPE_MB_PER_MIN} MB/min over the last 2/3, end <= ${SOAK_MAX_END_RATIO}x start`,
      `${m.slopeMbPerMin} MB/min, ${m.startMb} -> ${m.endMb} MB (${growth.toFixed(2)}x)`,
      m.slopeMbPerMin <= SOAK_MAX_SLOPE_MB_PER_MIN && growth <= SOAK_MAX_END_RATIO,
    );
  }
  return out;
}
