import { setTimeout as sleep } from "node:timers/promises";
import type { Closer } from "../closer.js";
import { openLoop } from "../load.js";
import type { Results } from "../report.js";
import { settings } from "../settings.js";
import { subscribeSse } from "../sse.js";
import { latency } from "../stats.js";
import { AGENT_DECISIONS, agentEvent } from "../workload.js";

// Event to decision, seen by an SSE subscriber, at a fixed offered rate (open loop): from sending
// the ingestEvent mutation to receiving that event's agentDecisions message.

export async function benchDecision(closer: Closer, results: Results): Promise<void> {
  const { run } = closer;
  await closer.ensureWorker();
  const liveCreator = await closer.creatorWithAgent("Bench Live");
  const decidedAt = new Map<string, number>();
  const subscription = await subscribeSse(
    closer.apiUrl,
    AGENT_DECISIONS,
    { creatorId: liveCreator.gid },
    liveCreator.creatorKey,
    (message, at) => {
      const id = (message as { data?: { agentDecisions?: { event?: { id: string } } } }).data?.agentDecisions?.event
        ?.id;
      if (id && !decidedAt.has(id)) decidedAt.set(id, at);
    },
  );
  run.onCleanup("close subscription", async () => subscription.close());
  /** Sends `count` events at the offered rate; the time each was sent, by event id. */
  const offer = async (prefix: string, count: number) => {
    const sentAt = new Map<string, number>();
    const ingestLatencies: number[] = [];
    let errors = 0;
    await openLoop({
      ratePerSecond: settings.decisionRate,
      count,
      signal: run.stopping.signal,
      send: async (i) => {
        const t = performance.now();
        try {
          const id = await closer.ingestSingle(liveCreator, agentEvent(prefix, i, 500));
          ingestLatencies.push(performance.now() - t);
          sentAt.set(id, t);
        } catch {
          errors++;
        }
      },
    });
    return { sentAt, ingestLatencies, errors };
  };
  const decided = async (ids: string[], timeoutMs: number) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until && ids.some((id) => !decidedAt.has(id))) {
      run.checkNotAborted();
      await sleep(100);
    }
  };
  // A short warm-up on other consumers, so a cold subscription path or worker is not measured.
  const warm = await offer("lw", Math.min(50, settings.decisionRate));
  await decided([...warm.sentAt.keys()], 10_000);
  const count = Math.round(settings.decisionRate * settings.decisionSeconds);
  run.log(`event to decision: ${count} events at ${settings.decisionRate}/s, one SSE subscriber`);
  const { sentAt, ingestLatencies, errors: ingestErrors } = await offer("l", count);
  await decided([...sentAt.keys()], Math.min(15_000, run.remainingMs() - 60_000));
  subscription.close();
  const latencies = [...sentAt].filter(([id]) => decidedAt.has(id)).map(([id, t]) => (decidedAt.get(id) as number) - t);
  results.decision = {
    offeredPerSecond: settings.decisionRate,
    sent: sentAt.size,
    ingestErrors,
    decided: latencies.length,
    missing: sentAt.size - latencies.length,
    latencyMs: latency(latencies),
    ingestLatencyMs: latency(ingestLatencies),
  };
  run.log(
    `decisions: ${latencies.length} of ${sentAt.size}, p50 ${results.decision.latencyMs.p50} ms, p99 ${results.decision.latencyMs.p99} ms (ingest p99 ${results.decision.ingestLatencyMs.p99} ms, ${ingestErrors} ingest errors); ${run.rss()}`,
  );
}
