import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import { logger } from "../logger.js";

// API_PROCESSES > 1: node:cluster runs that many API processes on one port. The first process
// (the primary) serves nothing itself: it starts the others, hands their connections out in turn,
// replaces one that dies, stops them all on SIGTERM or SIGINT, and adds their metrics up for
// /metrics. Each API process keeps what it keeps per process (verified keys, live streams): key
// revocations and live feeds reach every one of them through Redis pub/sub, as they reach every
// API instance (test/api-processes.test.ts).
//
// The default is 1. Measured on the 2-core development machine (single events, 32 in flight, the
// same build with 1 and 2 processes alternating 4 s at a time, 6 rounds, 2026-11-30): 2 processes
// served 15 % more events per second for 30 % more API CPU per event and twice the memory (peak
// RSS 250 MB, then 503 MB for the three processes): PostgreSQL needs as much CPU per event as the
// API, so a second core mostly moves CPU from one to the other. Where cores outnumber what
// PostgreSQL and the API's other neighbours use, one process per free core is the setting to try.

/** IPC messages between an API process and the primary, for /metrics. */
const METRICS_REQUEST = "closer:cluster-metrics";
const METRICS_ANSWER = "closer:cluster-metrics-answer";
/** The primary's answer waits for every process's metrics at most this long (prom-client's own bound is 5 s). */
const METRICS_TIMEOUT_MS = 6_000;

type MetricsRequest = { type: typeof METRICS_REQUEST; id: number };
type MetricsAnswer = { type: typeof METRICS_ANSWER; id: number; text?: string; error?: string };

/**
 * The Prometheus text /metrics answers: this process's registry, or, in a cluster, every API
 * process's added up by prom-client's AggregatorRegistry in the primary (counters and histograms
 * summed; a scrape reaches one process of the cluster, it must see them all).
 */
export async function apiMetrics(): Promise<string> {
  if (!cluster.isWorker) return (await import("../observability/metrics.js")).registry.metrics();
  const id = nextRequest++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      answers.delete(id);
      reject(new Error("the cluster's metrics did not come in time"));
    }, METRICS_TIMEOUT_MS);
    answers.set(id, (answer) => {
      clearTimeout(timer);
      if (answer.text !== undefined) resolve(answer.text);
      else reject(new Error(answer.error ?? "no metrics"));
    });
    process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
  });
}

let nextRequest = 0;
const answers = new Map<number, (answer: MetricsAnswer) => void>();

/** In an API process of a cluster: answers the primary's metrics requests, and takes its answers to ours. */
export async function joinCluster(): Promise<void> {
  // Imported here: the primary serves no requests and needs none of what the registry loads.
  const { registry } = await import("../observability/metrics.js");
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one is what makes prom-client answer the primary's requests (lib/cluster.js).
  new AggregatorRegistry();
  process.on("message", (message: MetricsAnswer) => {
    if (message?.type !== METRICS_ANSWER) return;
    answers.get(message.id)?.(message);
    answers.delete(message.id);
  });
}

/**
 * The primary of a cluster of `count` API processes. An API process that dies after it started
 * serving is replaced at once; one that dies before (a bad configuration, the port taken) stops
 * the cluster, whose exit the supervisor (scripts/start.ts) answers with its backoff. After a
 * signal it exits when every API process has.
 */
export function runApiCluster(count: number): void {
  const aggregator = new AggregatorRegistry();
  const serving = new Set<Worker>();
  let stopping = false;

  const stopAll = (code: number) => {
    if (stopping) return;
    stopping = true;
    // A process that died may still be listed until its IPC channel closes: waiting for its exit
    // would wait forever.
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    if (workers.length === 0) process.exit(code);
    let left = workers.length;
    for (const worker of workers) {
      worker.once("exit", () => {
        if (--left === 0) process.exit(code);
      });
      worker.process.kill("SIGTERM");
    }
  };

  const start = () => {
    const worker = cluster.fork();
    worker.once("listening", () => serving.add(worker));
    worker.on("message", (message: MetricsRequest) => {
      if (message?.type !== METRICS_REQUEST) return;
      aggregator.clusterMetrics().then(
        (text) => worker.send({ type: METRICS_ANSWER, id: message.id, text } satisfies MetricsAnswer),
        (error: Error) => worker.send({ type: METRICS_ANSWER, id: message.id, error: error.message }),
      );
    });
    worker.once("exit", (code, signal) => {
      const wasServing = serving.delete(worker);
      if (stopping) return;
      if (!wasServing) {
        logger.error({ code, signal }, "an API process stopped before it served: stopping the API");
        stopAll(1);
        return;
      }
      logger.warn({ code, signal, pid: worker.process.pid }, "an API process exited unexpectedly; starting another");
      start();
    });
  };

  for (let i = 0; i < count; i++) start();
  // Ctrl-C reaches every process of the group; SIGTERM from a supervisor only this one: either way
  // each API process drains its own requests, and this one exits after the last.
  process.on("SIGINT", () => stopAll(0));
  process.on("SIGTERM", () => stopAll(0));
}
