import { Baseline } from "../baseline.js";
import type { Closer } from "../closer.js";
import { CpuMeter } from "../cpu.js";
import { closedLoop, type LoopResult } from "../load.js";
import type { Child } from "../processes.js";
import type { LoadFigures, Results } from "../report.js";
import { settings } from "../settings.js";
import { latency, perSecond, ratio } from "../stats.js";
import { type BenchEvent, ingestionEvent } from "../workload.js";

// Ingestion, with the worker stopped: the plain-pg baseline, then the API, alone on the database,
// single events then batches, each at the same concurrency for the same time. Closer's figures
// come from measureApi, which takes the API's processes and a way to send to them: a measurement
// with several API processes (issue 16, goal 7) is one more call, against the same baseline.

export async function benchIngestion(closer: Closer, results: Results): Promise<void> {
  const { run, pool } = closer;
  const ingestCreator = await closer.creatorWithAgent("Bench Ingestion");
  const baselineCreator = await closer.makeCreator({ name: "Bench Baseline" });
  const baseline = new Baseline(closer.databaseUrl, settings.databasePoolSize, baselineCreator.creator.id);
  run.onCleanup("close baseline pool", () => baseline.close());

  /**
   * A warm-up (not recorded), then the measurement; `send(events)` sends the next `size` events;
   * `servers` are the processes serving them (none for the baseline, which runs in the bench).
   */
  const measure = async (
    label: string,
    servers: Child[],
    concurrency: number,
    size: number,
    maxRequests: number,
    send: (events: BenchEvent[]) => Promise<unknown>,
  ): Promise<LoadFigures> => {
    let next = 0;
    const take = () => {
      const first = next;
      next += size;
      return Array.from({ length: size }, (_, k) => ingestionEvent(first + k));
    };
    const load = (durationMs: number, cap: number) =>
      closedLoop({
        concurrency,
        durationMs,
        maxRequests: cap,
        signal: run.stopping.signal,
        send: async () => {
          await send(take());
          return true;
        },
      });
    await load(settings.warmupSeconds * 1000, maxRequests);
    const meter = await CpuMeter.start(pool, servers);
    const r: LoopResult = await load(settings.seconds * 1000, maxRequests);
    run.checkNotAborted();
    const cpu = await meter.stop(r.ok + r.errors);
    const figures: LoadFigures = {
      requests: r.ok + r.errors,
      events: r.ok * size,
      errors: r.errors,
      ...(r.firstError ? { firstError: r.firstError } : {}),
      elapsedS: Math.round(r.elapsedMs) / 1000,
      eventsPerSecond: perSecond(r.ok * size, r.elapsedMs),
      latencyMs: latency(r.latenciesMs),
      cpuMsPerRequest: { api: cpu.server, postgres: cpu.postgres, bench: cpu.bench },
    };
    run.log(
      `${label}: ${figures.eventsPerSecond} events/s, p50/p95/p99 ${figures.latencyMs.p50}/${figures.latencyMs.p95}/${figures.latencyMs.p99} ms, ${figures.errors} errors${r.firstError ? ` (first: ${r.firstError.slice(0, 200)})` : ""}; CPU ms per request: api ${cpu.server}, postgres ${cpu.postgres}, bench ${cpu.bench}; ${run.rss()}`,
    );
    return figures;
  };
  /** Single events, then batches, through the given API processes, each beside its baseline figures. */
  const measureApi = async (api: {
    label: string;
    servers: Child[];
    ingestSingle: (event: BenchEvent) => Promise<unknown>;
    ingestBatch: (events: BenchEvent[]) => Promise<unknown>;
  }) => {
    const single = await measure(
      `${api.label} single`,
      api.servers,
      settings.concurrency,
      1,
      settings.maxSingleRequests,
      ([e]) => api.ingestSingle(e),
    );
    const batched = await measure(
      `${api.label} batched`,
      api.servers,
      settings.batchConcurrency,
      settings.batchSize,
      settings.maxBatchRequests,
      (e) => api.ingestBatch(e),
    );
    return {
      single: {
        closer: single,
        baseline: singleBase,
        ratio: ratio(single.eventsPerSecond, singleBase.eventsPerSecond),
      },
      batched: {
        closer: batched,
        baseline: batchBase,
        ratio: ratio(batched.eventsPerSecond, batchBase.eventsPerSecond),
      },
    };
  };

  run.log(
    `ingestion: single events (${settings.concurrency} in flight), then batches of ${settings.batchSize} (${settings.batchConcurrency} in flight), ${settings.seconds} s each`,
  );
  const singleBase = await measure("baseline single", [], settings.concurrency, 1, settings.maxSingleRequests, (e) =>
    baseline.ingest(e),
  );
  const batchBase = await measure(
    "baseline batched",
    [],
    settings.batchConcurrency,
    settings.batchSize,
    settings.maxBatchRequests,
    (e) => baseline.ingest(e),
  );
  results.ingestion = await measureApi({
    label: "closer",
    servers: [closer.api],
    ingestSingle: (e) => closer.ingestSingle(ingestCreator, e),
    ingestBatch: (e) => closer.ingestBatch(ingestCreator, e),
  });

  // The agent runs of these events are not the subject: drop their jobs and mark them done,
  // so neither the worker nor its sweeper spends time on them below.
  run.log("discarding the ingestion runs' agent jobs");
  await closer.discardAgentBacklog();
}
