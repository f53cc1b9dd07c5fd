import { createServer, type Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { DelayedError, type Job, Worker, type WorkerOptions } from "bullmq";
import { processAgentRun } from "../src/agents/agent-run.js";
import { config } from "../src/config.js";
import { startScheduler } from "../src/delivery/scheduler.js";
import { sweepUnprocessedEvents } from "../src/events/dispatch.js";
import { startEventPartitionMaintenance } from "../src/events/event-partitions.js";
import { logger } from "../src/logger.js";
import { queueJobDuration, queueJobsProcessed, registry } from "../src/observability/metrics.js";
import { processOnboardingJob } from "../src/onboarding/onboarding-job.js";
import { requeueStrandedOnboardings } from "../src/onboarding/onboarding-service.js";
import { isOutage } from "../src/outages.js";
import {
  checkJobPayload,
  InvalidJobPayload,
  type QueueDefinition,
  queuePrefix,
  queues,
  workerConnection,
} from "../src/queues.js";
import { closeRedis } from "../src/redis.js";
import { sweepCallbackItems } from "../src/whatsapp/callbacks.js";

/** An onboarding still QUEUED after this long has lost its job. */
const STRANDED_ONBOARDING_MS = 60_000;

/** Counts the jobs a processor is running, so closing can wait for them without waiting on Redis. */
class InFlight {
  private running = 0;

  track<J, T>(processor: (job: J) => Promise<T>): (job: J) => Promise<T> {
    return async (job) => {
      this.running++;
      try {
        return await processor(job);
      } finally {
        this.running--;
      }
    };
  }

  get count(): number {
    return this.running;
  }
}

/** How long closing may take once the jobs are done: with Redis away it would never end. */
const CLOSE_AFTER_JOBS_MS = 2_000;

/**
 * Stops taking jobs, lets the running ones finish, then closes. BullMQ's close quits its Redis
 * connections, which waits without bound while Redis is away (and a forced close after a
 * graceful one only returns the first), so once no job runs the close is given
 * CLOSE_AFTER_JOBS_MS and then left to the process's exit. A job whose completion could not be
 * reported is run again after its lock expires; runs are idempotent.
 */
async function closeWorker(worker: Worker, jobs: InFlight): Promise<void> {
  await Promise.race([worker.pause(true).catch(() => {}), sleep(CLOSE_AFTER_JOBS_MS)]);
  while (jobs.count > 0) await sleep(50);
  const closing = worker.close();
  closing.catch(() => {});
  await Promise.race([closing, sleep(CLOSE_AFTER_JOBS_MS)]);
}

/** A lost Redis connection makes BullMQ report an error per reconnection attempt; the connection's own log line says it once. */
function logWorkerError(queueName: string, error: Error): void {
  if (isOutage(error)) logger.debug({ err: error, queue: queueName }, "worker waiting for Redis");
  // A Redis that restarted empty lost the job while it ran: its work is recorded in PostgreSQL,
  // and an unprocessed event is enqueued again by the sweeper.
  else if (/^Missing key for job/.test(error.message)) {
    logger.warn({ err: error, queue: queueName }, "job lost with Redis while running; the database keeps its outcome");
  } else logger.error({ err: error, queue: queueName }, "worker error");
}

/** Worker settings a queue chooses for its processor; the connection and prefix are the same for all. */
type ProcessorOptions = Pick<WorkerOptions, "concurrency" | "stalledInterval" | "lockDuration" | "maxStalledCount">;

/**
 * Starts a BullMQ worker that runs `handler` on each job of a registry queue, with the treatment
 * every queue gets: the payload is checked against the queue's schema before the handler sees it
 * (a malformed job fails at once with the schema's reason, never retried); each run is counted by
 * queue and outcome (closer_queue_jobs_processed_total) and timed (closer_queue_job_seconds); each
 * failed attempt is logged once; worker errors are logged as logWorkerError says. `close` stops
 * taking jobs and lets the running ones finish (see closeWorker).
 */
function registerProcessor<Payload>(
  definition: QueueDefinition<string, Payload>,
  handler: (job: Job<Payload>) => Promise<unknown>,
  options: ProcessorOptions,
): { close(): Promise<void> } {
  const { name } = definition;
  const jobs = new InFlight();
  const run = jobs.track(async (job: Job<Payload>) => {
    const stopTimer = queueJobDuration.startTimer({ queue: name });
    try {
      checkJobPayload(definition, job.data);
      const result = await handler(job);
      queueJobsProcessed.inc({ queue: name, outcome: "completed" });
      return result;
    } catch (error) {
      queueJobsProcessed.inc({ queue: name, outcome: outcomeOf(error) });
      throw error;
    } finally {
      stopTimer();
    }
  });
  // BullMQ closes only the connections it made (its blocking duplicate), not the one it is given.
  const connection = workerConnection(name);
  const worker = new Worker<Payload>(name, run, { ...options, connection, prefix: queuePrefix() });
  worker.on("failed", (job, error) =>
    logger.warn({ queue: name, jobId: job?.id, attempts: job?.attemptsMade, err: error }, "job failed"),
  );
  worker.on("error", (error) => logWorkerError(name, error));
  return {
    close: async () => {
      await closeWorker(worker, jobs);
      await closeRedis(connection);
    },
  };
}

/** The outcome label of a job whose handler threw (see queueJobsProcessed). */
function outcomeOf(error: unknown): "invalid" | "outage" | "failed" | "delayed" {
  if (error instanceof InvalidJobPayload) return "invalid";
  if (error instanceof DelayedError) return "delayed";
  return isOutage(error) ? "outage" : "failed";
}

function serveMetrics(port: number): Server {
  const server = createServer(async (req, res) => {
    if (req.url === "/metrics") {
      res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
    } else {
      res.writeHead(req.url === "/health" ? 200 : 404).end();
    }
  });
  server.listen(port, "0.0.0.0");
  return server;
}

/**
 * Starts every processor of the worker (the delivery scheduler too, unless told not to); `close`
 * lets running jobs and sends finish. The process's shared connections (database, pub/sub,
 * producers) stay open for whoever else uses them: the process entry closes them last.
 */
export async function startWorker(options: { metricsPort?: number; scheduler?: boolean } = {}) {
  const settings = config();
  const agentRuns = registerProcessor(queues.agentRuns, processAgentRun, {
    concurrency: settings.WORKER_CONCURRENCY,
    stalledInterval: settings.WORKER_STALLED_INTERVAL_MS,
    lockDuration: settings.WORKER_LOCK_DURATION_MS,
    // A job whose worker died is retried, not failed: the run is idempotent per (agent, event).
    maxStalledCount: 5,
  });
  const onboarding = registerProcessor(queues.onboarding, processOnboardingJob, {
    // LLM calls wait on the network, not the CPU.
    concurrency: 8,
    lockDuration: Math.max(settings.WORKER_LOCK_DURATION_MS, settings.OPENAI_TIMEOUT_MS * 2),
    maxStalledCount: 3,
  });

  // Work whose job was lost (enqueue failed, Redis restarted empty, a run ended on an outage) is
  // found in the database. One sweep at a time; shutdown waits for the one under way.
  let sweep: Promise<void> | null = null;
  let sweepFailing = false;
  const sweeper = setInterval(() => {
    sweep ??= (async () => {
      try {
        await sweepUnprocessedEvents(settings.DISPATCH_SWEEP_AGE_MS);
        await requeueStrandedOnboardings(STRANDED_ONBOARDING_MS);
        await sweepCallbackItems();
        if (sweepFailing) logger.info("sweeps succeed again");
        sweepFailing = false;
      } catch (error) {
        // Once per outage: the sweep runs every DISPATCH_SWEEP_INTERVAL_MS.
        if (!sweepFailing) logger.warn({ err: error }, "sweep failed; retrying every interval");
        sweepFailing = true;
      }
    })().finally(() => {
      sweep = null;
    });
  }, settings.DISPATCH_SWEEP_INTERVAL_MS);

  const scheduler = options.scheduler === false ? null : startScheduler();
  // Months of events made ahead, and dropped past EVENT_RETENTION_DAYS.
  const partitions = startEventPartitionMaintenance();

  const metricsPort = options.metricsPort ?? settings.WORKER_METRICS_PORT;
  const metrics = metricsPort > 0 ? serveMetrics(metricsPort) : null;

  return {
    /** Stops the loops (the sweep under way finishes), then lets running jobs and sends finish. */
    async close() {
      clearInterval(sweeper);
      await sweep;
      await Promise.all([agentRuns.close(), onboarding.close(), scheduler?.stop(), partitions.stop()]);
      metrics?.close();
    },
  };
}
