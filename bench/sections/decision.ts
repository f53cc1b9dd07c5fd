import { setTimeout as sleep } from "node:timers/promises";
import type { Closer } from "../closer.js";
import { openLoop } from "../load.js";
import type { DecisionRun, Results } from "../report.js";
import { referenceRate, settings } from "../settings.js";
import { subscribeSse } from "../sse.js";
import { latency } from "../stats.js";
import { DECISION_TARGETS } from "../targets.js";
import { AGENT_DECISIONS, agentEvent } from "../workload.js";

// Event to decision, seen by an SSE subscriber, at fixed offered rates (open loop): from sending
// the ingestEvent mutation to receiving that event's agentDecisions message. One run per share of
// the reference rate in DECISION_TARGETS (25 % and 50 % of this run's single-event baseline),
// the lighter first; what a run leaves queued is discarded before the next.

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
  /**
   * Sends `count` events at `rate` per second, from 500 consumers numbered from `first` (each run
   * has people of its own); the time each was sent, by event id.
   */
  const offer = async (prefix: string, first: number, count: number, rate: number) => {
    const sentAt = new Map<string, number>();
    const ingestLatencies: number[] = [];
    let errors = 0;
    await openLoop({
      ratePerSecond: rate,
      count,
      signal: run.stopping.signal,
      send: async (i) => {
        const t = performance.now();
        try {
          const id = await closer.ingestSingle(liveCreator, agentEvent(prefix, first + (i % 500)));
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
  const reference = referenceRate(results);
  // A short warm-up on other consumers, so a cold subscription path or worker is not measured.
  const warm = await offer("lw", 0, 50, 50);
  await decided([...warm.sentAt.keys()], 10_000);
  results.decision = [];
  for (const [k, { share }] of DECISION_TARGETS.entries()) {
    const rate = Math.max(1, Math.round(reference.perSecond * share));
    const count = Math.round(rate * settings.decisionSeconds);
    run.log(
      `event to decision: ${count} events at ${rate}/s (${share * 100} % of ${reference.perSecond}/s, ${reference.source}), one SSE subscriber`,
    );
    const {
      sentAt,
      ingestLatencies,
      errors: ingestErrors,
    } = await offer(`l${share * 100}_`, 500 * (k + 1), count, rate);
    await decided([...sentAt.keys()], Math.min(15_000, run.remainingMs() - 60_000));
    await closer.discardAgentBacklog();
    const latencies = [...sentAt]
      .filter(([id]) => decidedAt.has(id))
      .map(([id, t]) => (decidedAt.get(id) as number) - t);
    const figures: DecisionRun = {
      share,
      reference: reference.source,
      offeredPerSecond: rate,
      sent: sentAt.size,
      ingestErrors,
      decided: latencies.length,
      missing: sentAt.size - latencies.length,
      latencyMs: latency(latencies),
      ingestLatencyMs: latency(ingestLatencies),
    };
    results.decision.push(figures);
    run.log(
      `decisions: ${latencies.length} of ${sentAt.size}, p50 ${figures.latencyMs.p50} ms, p99 ${figures.latencyMs.p99} ms (ingest p99 ${figures.ingestLatencyMs.p99} ms, ${ingestErrors} ingest errors); ${run.rss()}`,
    );
  }
  subscription.close();
}
