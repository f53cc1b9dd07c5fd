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
  decision?: {
    offeredPerSecond: number;
    sent: number;
    ingestErrors: number;
    decided: number;
    missing: number;
    latencyMs: Latency;
    ingestLatencyMs: Latency;
  };
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
  scheduler?:
    | { available: false; reason: string }
    | {
        available: true;
        host: string;
        burst: SchedulerRun;
        paced: SchedulerRun;
      };
  memory: Record<string, Memory>;
  targets: Target[];
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
  /** CPU time per action: the scheduler's process, this database's PostgreSQL backends, the bench process (the sinks). */
  cpuMsPerAction: { scheduler: number; postgres: number; sinks: number };
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
  const verdict = (...figures: string[]) => {
    const found = figures.map(target).filter((t): t is Target => !!t && t.met !== null);
    return found.length === 0 ? "" : met(found.every((t) => t.met));
  };
  const { single, batched } = r.ingestion;
  const s = r.settings as { concurrency: number; batchConcurrency: number; batchSize: number };
  if (single) {
    out.push([
      `Single-event ingestion (ingestEvent over HTTP, ${s.concurrency} in flight)`,
      `${n(single.closer.eventsPerSecond)} events/s`,
      `${n(single.baseline.eventsPerSecond)} events/s`,
      x(single.ratio),
      ">= 2,000 events/s, >= 0.5x",
      verdict("single throughput", "single ratio"),
    ]);
    out.push([
      "Single-event latency p50 / p95 / p99",
      lat(single.closer.latencyMs),
      lat(single.baseline.latencyMs),
      x(single.closer.latencyMs.p99 / single.baseline.latencyMs.p99),
      "p99 <= 25 ms",
      verdict("single p99"),
    ]);
    out.push(cpuRow("Single-event CPU per event, server / PostgreSQL", single, 1));
    if (single.closer.errors || single.baseline.errors) {
      out.push(["Single-event errors", n(single.closer.errors), n(single.baseline.errors), "", "0", ""]);
    }
  }
  if (batched) {
    out.push([
      `Batched ingestion (ingestEvents, ${s.batchSize} per request, ${s.batchConcurrency} in flight)`,
      `${n(batched.closer.eventsPerSecond)} events/s`,
      `${n(batched.baseline.eventsPerSecond)} events/s`,
      x(batched.ratio),
      ">= 10,000 events/s, >= 0.5x",
      verdict("batched throughput", "batched ratio"),
    ]);
    out.push(cpuRow("Batched CPU per event, server / PostgreSQL", batched, s.batchSize));
    out.push([
      "Batch latency p50 / p95 / p99",
      lat(batched.closer.latencyMs),
      lat(batched.baseline.latencyMs),
      "",
      "",
      "",
    ]);
  }
  if (r.decision) {
    const d = r.decision;
    out.push([
      `Event to decision on an SSE subscription at ${d.offeredPerSecond} events/s, p50 / p99`,
      `${ms(d.latencyMs.p50)} / ${ms(d.latencyMs.p99)} ms${d.missing ? ` (${d.missing} of ${d.sent} missing)` : ""}`,
      "",
      "",
      "p99 <= 100 ms",
      verdict("decision p99"),
    ]);
  }
  if (r.worker) {
    const w = r.worker;
    out.push([
      `Agent invocations, backlog of ${n(w.backlog)} events${w.complete ? "" : ` (${n(w.finished)} finished in time)`}`,
      `${n(w.invocationsPerSecond)} invocations/s`,
      "",
      "",
      ">= 2,000 invocations/s",
      verdict("worker throughput"),
    ]);
  }
  if (r.scheduler && !r.scheduler.available) {
    out.push(["Scheduler", "not available", "", "", ">= 5,000 actions/s", ""]);
  } else if (r.scheduler?.available) {
    const { burst, paced } = r.scheduler;
    const unsent = (run: SchedulerRun) =>
      run.sent === run.actions ? "" : ` (${n(run.sent)} of ${n(run.actions)} sent)`;
    out.push([
      `Scheduler, ${n(burst.actions)} actions due at once`,
      `${n(burst.actionsPerSecond)} actions/s${unsent(burst)}`,
      "",
      "",
      ">= 5,000 actions/s",
      verdict("scheduler throughput"),
    ]);
    out.push([
      `Scheduler lateness at ${n(paced.offeredPerSecond ?? 0)} actions/s, p50 / p99`,
      `${ms(paced.latenessMs.p50)} / ${ms(paced.latenessMs.p99)} ms${unsent(paced)}`,
      "",
      "",
      "p99 <= 500 ms",
      verdict("scheduler lateness p99"),
    ]);
  }
  const memory = Object.entries(r.memory)
    .map(([name, m]) => `${name} ${n(Math.max(m.hwmMb, m.peakRssMb))} MB`)
    .join(", ");
  if (memory) out.push(["Peak RSS", memory, "", "", "", ""]);
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
