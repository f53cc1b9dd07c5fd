import { Baseline } from "../baseline.js";
import type { Closer } from "../closer.js";
import { CpuMeter } from "../cpu.js";
import { closedLoop, type LoopResult } from "../load.js";
import type { IngestionPair, LoadFigures, Results } from "../report.js";
import { settings } from "../settings.js";
import { latency, perSecond, ratio } from "../stats.js";
import { type BenchEvent, ingestionEvent } from "../workload.js";

// Ingestion, with the worker stopped: the API and the plain-pg baseline alone on the database,
// single events then batches, each at the same concurrency for the same time.

export async function benchIngestion(closer: Closer, results: Results): Promise<void> {
  const { run, pool } = closer;
  const ingestCreator = await closer.creatorWithAgent("Bench Ingestion");
  const baselineCreator = await closer.makeCreator({ name: "Bench Baseline" });
  const baseline = new Baseline(closer.databaseUrl, settings.databasePoolSize, baselineCreator.creator.id);
  run.onCleanup("close baseline pool", () => baseline.close());

  /** A warm-up (not recorded), then the measurement; `send(events)` sends the next `size` events. */
  const measure = async (
    label: string,
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
    const meter = await CpuMeter.start(pool, closer.api);
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
  const pair = (closerFigures: LoadFigures, base: LoadFigures): IngestionPair => ({
    closer: closerFigures,
    baseline: base,
    ratio: ratio(closerFigures.eventsPerSecond, base.eventsPerSecond),
  });

  run.log(`single-event ingestion, ${settings.concurrency} in flight, ${settings.seconds} s each`);
  const singleBase = await measure("baseline single", settings.concurrency, 1, settings.maxSingleRequests, (e) =>
    baseline.ingest(e),
  );
  const single = await measure("closer single", settings.concurrency, 1, settings.maxSingleRequests, ([e]) =>
    closer.ingestSingle(ingestCreator, e),
  );
  results.ingestion.single = pair(single, singleBase);

  run.log(`batched ingestion, ${settings.batchSize} per request, ${settings.batchConcurrency} in flight`);
  const batchBase = await measure(
    "baseline batched",
    settings.batchConcurrency,
    settings.batchSize,
    settings.maxBatchRequests,
    (e) => baseline.ingest(e),
  );
  const batched = await measure(
    "closer batched",
    settings.batchConcurrency,
    settings.batchSize,
    settings.maxBatchRequests,
    (e) => closer.ingestBatch(ingestCreator, e),
  );
  results.ingestion.batched = pair(batched, batchBase);

  // The agent runs of these events are not the subject: drop their jobs and mark them done,
  // so neither the worker nor its sweeper spends time on them below.
  run.log("discarding the ingestion runs' agent jobs");
  await pool.query(`UPDATE events SET "processedAt" = now() WHERE "processedAt" IS NULL`);
  await closer.queue(closer.QUEUES.agentRuns).drain(true);
}
