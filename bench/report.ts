import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import type { Memory } from "./processes.js";
import type { Latency } from "./stats.js";

export type LoadFigures = {
  requests: number;
  events: number;
  errors: number;
  firstError?: string;
  elapsedS: number;
  eventsPerSecond: number;
  latencyMs: Latency;
  /** CPU time per request: the API process, this database's PostgreSQL backends, the bench process (client, and server for the baseline). */
  cpuMsPerRequest: { api: number; postgres: number; bench: number };
};

export type IngestionPair = { closer: LoadFigures; baseline: LoadFigures; ratio: number };

export type Results = {
  startedAt: string;
  durationS: number;
  complete: boolean;
  failure?: string;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  notes: string[];
  ingestion: { single?: IngestionPair; batched?: IngestionPair };
  decision?: DecisionRun[];
  worker?: {
    backlog: number;
    finished: number;
    failed: number;
    drainS: number;
    invocationsPerSecond: number;
    startupS: number;
    complete: boolean;
    cpuMsPerInvocation: { worker: number; postgres: number } | null;
  };
  scheduler?: {
    /** The process Closer's scheduler ran in. */
    host: string;
    baseline: SchedulerRun;
    burst: SchedulerRun;
    paced: SchedulerRun;
    /** Closer's burst actions/s over the baseline's. */
    ratio: number;
  };
  soak?: {
    offeredPerSecond: number;
    /** What the offered rate is a share of. */
    reference: string;
    warmupS: number;
    seconds: number;
    sent: number;
    /** Events due while `settings.concurrency` were in flight: not sent (Closer fell behind). */
    dropped: number;
    ingestErrors: number;
    ingestLatencyMs: Latency;
    /** agentDecisions messages the SSE subscriber received. */
    decisions: number;
    /** Invocations finished for the soak's creator, and its actions by status. */
    invocations: number;
    actions: Record<string, number>;
    /** Of the actions sent after the warm-up. */
    latenessMs: Latency;
    processes: Record<string, SoakMemory>;
  };
  memory: Record<string, Memory>;
  targets: Target[];
};

export type DecisionRun = {
  /** Of the reference rate (`reference`): the single-event baseline, or BENCH_DECISION_RATE without one. */
  share: number;
  reference: string;
  offeredPerSecond: number;
  sent: number;
  ingestErrors: number;
  decided: number;
  missing: number;
  latencyMs: Latency;
  ingestLatencyMs: Latency;
};

export type SchedulerRun = {
  actions: number;
  offeredPerSecond: number | null;
  sent: number;
  failed: number;
  skipped: number;
  pending: number;
  /** Burst: sent / (last sentAt - due time). Paced: sent / (last sentAt - first sendAt). */
  actionsPerSecond: number;
  /** sent / (last sentAt - first sentAt): the pace once sending started. */
  sendingPerSecond: number;
  latenessMs: Latency;
  channels: Record<string, number>;
  /**
   * CPU time per action: the scheduler's process (none for the baseline), this database's
   * PostgreSQL backends, the bench process (the sinks, and the baseline when it sends).
   */
  cpuMsPerAction: { scheduler: number; postgres: number; bench: number };
};

/** A process's resident memory over the soak: the window starts after the warm-up (t = 0). */
export type SoakMemory = {
  /** Medians of the first and last 30 s of the window, in MB. */
  startMb: number;
  endMb: number;
  /** The highest sample, warm-up included. */
  peakMb: number;
  /** Least-squares slope of RSS over the last two thirds of the window. */
  slopeMbPerMin: number;
  /** [seconds from the end of the warm-up, MB], every few seconds. */
  samples: [number, number][];
};

export type Target = { figure: string; target: string; value: string; met: boolean | null };

export async function describeMachine(pgVersion: string, redisVersion: string) {
  const cpus = os.cpus();
  let distro = "";
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "";
  } catch {}
  return {
    os: `${distro || os.type()} (${os.platform()} ${os.release()} ${os.arch()})`,
    cpus: `${cpus.length} x ${cpus[0]?.model.trim() ?? "unknown"}`,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    postgres: pgVersion,
    redis: redisVersion,
  };
}

const n = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "n/a");
const ms = (v: number) =>
  Number.isFinite(v) ? (v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString("en-US")) : "n/a";
const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : "n/a");
const lat = (l: Latency) => `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)} ms`;
const met = (t: boolean | null) => (t === null ? "" : t ? "met" : "MISSED");

type Row = [figure: string, closer: string, baseline: string, ratio: string, target: string, verdict: string];

function rows(r: Results): Row[] {
  const out: Row[] = [];
  const target = (figure: string) => r.targets.find((t) => t.figure === figure);
  /** The target's wording and verdict, for a row that shows one figure's target. */
  const held = (figure: string): [string, string] => {
    const t = target(figure);
    return t ? [t.target, met(t.met)] : ["", ""];
  };
  const { single, batched } = r.ingestion;
  const s = r.settings as { concurrency: number; batchConcurrency: number; batchSize: number };
  const ingestionRows = (pair: IngestionPair, name: "single" | "batched", label: string, size: number) => {
    out.push([
      label,
      `${n(pair.closer.eventsPerSecond)} events/s`,
      `${n(pair.baseline.eventsPerSecond)} events/s`,
      x(pair.ratio),
      ...held(`${name} ratio`),
    ]);
    out.push([
      `${name === "single" ? "Single-event" : "Batch"} latency p50 / p95 / p99`,
      lat(pair.closer.latencyMs),
      lat(pair.baseline.latencyMs),
      x(pair.closer.latencyMs.p99 / pair.baseline.latencyMs.p99),
      ...held(`${name} p99 ratio`),
    ]);
    out.push(
      cpuRow(`${name === "single" ? "Single-event" : "Batched"} CPU per event, server / PostgreSQL`, pair, size),
    );
    if (pair.closer.errors || pair.baseline.errors) {
      out.push([`${label}: errors`, n(pair.closer.errors), n(pair.baseline.errors), "", "0", ""]);
    }
  };
  if (single)
    ingestionRows(single, "single", `Single-event ingestion (ingestEvent over HTTP, ${s.concurrency} in flight)`, 1);
  if (batched) {
    const label = `Batched ingestion (ingestEvents, ${s.batchSize} per request, ${s.batchConcurrency} in flight)`;
    ingestionRows(batched, "batched", label, s.batchSize);
  }
  if (r.worker) {
    const w = r.worker;
    out.push([
      `Agent invocations, backlog of ${n(w.backlog)} events${w.complete ? "" : ` (${n(w.finished)} finished in time)`}`,
      `${n(w.invocationsPerSecond)} invocations/s`,
      single ? `${n(single.baseline.eventsPerSecond)} single events/s` : "",
      single ? x(w.invocationsPerSecond / single.baseline.eventsPerSecond) : "n/a",
      ...held("worker ratio"),
    ]);
  }
  for (const d of r.decision ?? []) {
    out.push([
      `Event to decision on an SSE subscription at ${n(d.offeredPerSecond)} events/s (${d.share * 100} % of ${d.reference}), p50 / p99`,
      `${ms(d.latencyMs.p50)} / ${ms(d.latencyMs.p99)} ms${d.missing ? ` (${d.missing} of ${d.sent} missing)` : ""}`,
      "",
      "",
      ...held(`decision p99 at ${d.share * 100} %`),
    ]);
  }
  if (r.scheduler) {
    const { baseline, burst, paced } = r.scheduler;
    const unsent = (run: SchedulerRun) =>
      run.sent === run.actions ? "" : ` (${n(run.sent)} of ${n(run.actions)} sent)`;
    out.push([
      `Scheduler, ${n(burst.actions)} actions due at once`,
      `${n(burst.actionsPerSecond)} actions/s${unsent(burst)}`,
      `${n(baseline.actionsPerSecond)} actions/s${unsent(baseline)}`,
      x(r.scheduler.ratio),
      ...held("scheduler ratio"),
    ]);
    out.push([
      "Scheduler CPU per action, scheduler + bench / PostgreSQL",
      `${ms(burst.cpuMsPerAction.scheduler + burst.cpuMsPerAction.bench)} / ${ms(burst.cpuMsPerAction.postgres)} ms`,
      `${ms(baseline.cpuMsPerAction.bench)} / ${ms(baseline.cpuMsPerAction.postgres)} ms`,
      "",
      "",
      "",
    ]);
    out.push([
      `Scheduler lateness at ${n(paced.offeredPerSecond ?? 0)} actions/s (half the baseline's rate), p50 / p99`,
      `${ms(paced.latenessMs.p50)} / ${ms(paced.latenessMs.p99)} ms${unsent(paced)}`,
      "",
      "",
      ...held("scheduler lateness p99"),
    ]);
  }
  for (const [role, m] of Object.entries(r.memory)) {
    out.push([`Peak RSS, ${role}`, `${n(Math.max(m.hwmMb, m.peakRssMb))} MB`, "", "", ...held(`peak RSS ${role}`)]);
  }
  if (r.soak) {
    const k = r.soak;
    for (const [role, m] of Object.entries(k.processes)) {
      out.push([
        `Soak, ${role}: RSS start -> end (MB), slope of the last 2/3 (${k.seconds} s at ${n(k.offeredPerSecond)} events/s after ${k.warmupS} s)`,
        `${n(m.startMb)} -> ${n(m.endMb)} MB, ${m.slopeMbPerMin.toFixed(2)} MB/min`,
        "",
        x(m.endMb / m.startMb),
        ...held(`soak growth ${role}`),
      ]);
    }
    out.push([
      "Soak load: events sent (not sent: too many in flight; errors), ingest p99, decisions received, actions sent (lateness p99)",
      `${n(k.sent)} (${n(k.dropped)}; ${n(k.ingestErrors)}), ${ms(k.ingestLatencyMs.p99)} ms, ${n(k.decisions)}, ${n(k.actions.SENT ?? 0)} (${ms(k.latenessMs.p99)} ms)`,
      "",
      "",
      "",
      "",
    ]);
  }
  return out;
}

/** The server is the API for Closer, the bench process itself for the baseline. */
function cpuRow(figure: string, pair: IngestionPair, size: number): Row {
  const cell = (server: number, postgres: number) =>
    `${ms((server / size) * 1000)} / ${ms((postgres / size) * 1000)} µs`;
  const closer = pair.closer.cpuMsPerRequest;
  const base = pair.baseline.cpuMsPerRequest;
  return [
    figure,
    cell(closer.api, closer.postgres),
    cell(base.bench, base.postgres),
    x((closer.api + closer.postgres) / (base.bench + base.postgres)),
    "",
    "",
  ];
}

const HEADER: Row = ["Figure", "Closer", "Baseline (plain pg)", "Closer / baseline", "Target", "Verdict"];

export function markdown(r: Results): string {
  const m = r.machine as Record<string, string | number>;
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`;
  return [
    `Measured ${r.startedAt.slice(0, 16).replace("T", " ")} UTC with \`npm run bench\` on ${m.cpus}, ${m.memoryGiB} GiB, ${m.os};`,
    `Node ${m.node}, ${m.postgres}, Redis ${m.redis}.${r.complete ? "" : ` Incomplete run: ${r.failure}.`}`,
    "",
    line(HEADER),
    line(HEADER.map(() => "---")),
    ...rows(r).map(line),
    "",
    ...r.notes.map((note) => `- ${note}`),
    "",
  ].join("\n");
}

export function table(r: Results): string {
  const all = [HEADER, ...rows(r)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const line = (row: Row) =>
    row
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(HEADER), widths.map((w) => "-".repeat(w)).join("  "), ...rows(r).map(line)].join("\n");
}

/** Writes results/<timestamp>.json, and latest.json and latest.md when asked (a complete, full run). */
export function writeResults(r: Results, updateLatest: boolean): string[] {
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, "-");
  const json = `${JSON.stringify(r, null, 2)}\n`;
  const written = [new URL(`${stamp}.json`, dir)];
  writeFileSync(written[0], json);
  if (updateLatest) {
    written.push(new URL("latest.json", dir), new URL("latest.md", dir));
    writeFileSync(written[1], json);
    writeFileSync(written[2], markdown(r));
  }
  return written.map((u) => u.pathname);
}
