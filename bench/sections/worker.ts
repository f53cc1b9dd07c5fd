import { setTimeout as sleep } from "node:timers/promises";
import type { Closer } from "../closer.js";
import { CpuMeter } from "../cpu.js";
import type { Results } from "../report.js";
import { settings } from "../settings.js";
import { perSecond } from "../stats.js";
import { agentEvent } from "../workload.js";

// The worker: a backlog enqueued while it was stopped, drained once it starts. Invocations per
// second = invocations finished / (last finishedAt - first startedAt).

export async function benchWorker(closer: Closer, results: Results): Promise<void> {
  const { run, pool } = closer;
  const drainCreator = await closer.creatorWithAgent("Bench Worker");
  const batches = Math.ceil(settings.backlog / settings.batchSize);
  run.log(`enqueueing a backlog of ${batches * settings.batchSize} events with the worker stopped`);
  let b = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (b < batches) {
        const first = b++ * settings.batchSize;
        await closer.ingestBatch(
          drainCreator,
          Array.from({ length: settings.batchSize }, (_, k) => agentEvent("w", (first + k) % 1_000)),
        );
      }
    }),
  );
  const backlog = batches * settings.batchSize;
  const spawnedAt = performance.now();
  const worker = await closer.ensureWorker();
  const startupS = (performance.now() - spawnedAt) / 1000;
  const deadline = Date.now() + Math.min(120_000, run.remainingMs() - 90_000);
  type Progress = { finished: number; failed: number; first: Date | null; last: Date | null };
  let progress: Progress = { finished: 0, failed: 0, first: null, last: null };
  // CPU per invocation from the first finished invocation on (the worker's start-up excluded).
  let mark: { meter: CpuMeter; finished: number } | undefined;
  while (Date.now() < deadline) {
    run.checkNotAborted();
    progress = (
      await pool.query<Progress>(
        `SELECT count(*) FILTER (WHERE status IN ('COMPLETED', 'SKIPPED', 'FAILED'))::int AS finished,
                count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
                min("startedAt") AS first, max("finishedAt") AS last
           FROM agent_invocations WHERE "creatorId" = $1`,
        [drainCreator.creator.id],
      )
    ).rows[0];
    if (progress.finished > 0 && !mark)
      mark = { meter: await CpuMeter.start(pool, [worker]), finished: progress.finished };
    if (progress.finished >= backlog) break;
    await sleep(250);
  }
  const cpu = mark && (await mark.meter.stop(progress.finished - mark.finished));
  const drainMs = progress.first && progress.last ? progress.last.getTime() - progress.first.getTime() : 0;
  results.worker = {
    backlog,
    finished: progress.finished,
    failed: progress.failed,
    drainS: drainMs / 1000,
    invocationsPerSecond: perSecond(progress.finished, drainMs),
    startupS: Math.round(startupS * 10) / 10,
    complete: progress.finished >= backlog,
    cpuMsPerInvocation: cpu ? { worker: cpu.server, postgres: cpu.postgres } : null,
  };
  run.log(
    `worker: ${progress.finished} of ${backlog} invocations in ${drainMs} ms (first start to last finish): ${results.worker.invocationsPerSecond}/s, ${progress.failed} failed; CPU ms per invocation: worker ${cpu?.server}, postgres ${cpu?.postgres}; ${run.rss()}`,
  );
}
