import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { queue, queues } from "../queues.js";

/** Prometheus metrics of this process, served at /metrics (API) and by the worker's metrics port. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "closer_" });

export const eventsIngested = new Counter({
  name: "closer_events_ingested_total",
  help: "Events stored, by whether they were new or an idempotent replay.",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

export const invocationOutcomes = new Counter({
  name: "closer_agent_invocations_total",
  help: "Agent runs by final status.",
  labelNames: ["status"] as const,
  registers: [registry],
});

export const invocationDuration = new Histogram({
  name: "closer_agent_invocation_seconds",
  help: "Time to run an agent on one event.",
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
  registers: [registry],
});

export const deliveryOutcomes = new Counter({
  name: "closer_deliveries_total",
  help: "Action sends by channel and outcome (sent, failed, skipped, deferred, retried).",
  labelNames: ["channel", "outcome"] as const,
  registers: [registry],
});

export const deliveryLateness = new Histogram({
  name: "closer_delivery_lateness_seconds",
  help: "How late a send was against its sendAt.",
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 120],
  registers: [registry],
});

export const graphqlDuration = new Histogram({
  name: "closer_graphql_request_seconds",
  help: "GraphQL HTTP request latency.",
  labelNames: ["operation"] as const,
  buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  registers: [registry],
});

/**
 * Jobs the worker ran, by queue and outcome: completed; failed (it may be retried, see the
 * queue's attempts); outage (PostgreSQL or Redis away: the sweepers enqueue the work again);
 * invalid (its payload broke the queue's schema: failed at once, never retried).
 */
export const queueJobsProcessed = new Counter({
  name: "closer_queue_jobs_processed_total",
  help: "Jobs run by the worker, by queue and outcome (completed, failed, outage, invalid).",
  labelNames: ["queue", "outcome"] as const,
  registers: [registry],
});

export const queueJobDuration = new Histogram({
  name: "closer_queue_job_seconds",
  help: "Time a worker spent running one job, by queue, whatever its outcome.",
  labelNames: ["queue"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 120],
  registers: [registry],
});

new Gauge({
  name: "closer_queue_jobs",
  help: "Jobs in each queue by state.",
  labelNames: ["queue", "state"] as const,
  registers: [registry],
  async collect() {
    for (const { name } of Object.values(queues)) {
      try {
        const counts = await queue(name).getJobCounts("waiting", "active", "delayed", "failed");
        for (const [state, n] of Object.entries(counts)) this.set({ queue: name, state }, n);
      } catch {
        // Redis away: the gauge keeps its last values; /ready reports the outage.
      }
    }
  },
});
