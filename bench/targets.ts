import type { Results } from "./report.js";

// What each figure is held against (the product's performance targets), and whether it met it.

export function targets(r: Results): Results["targets"] {
  const out: Results["targets"] = [];
  const add = (figure: string, target: string, value: string, met: boolean) => out.push({ figure, target, value, met });
  const { single, batched } = r.ingestion;
  if (single) {
    const { closer } = single;
    add("single throughput", ">= 2,000 events/s", `${closer.eventsPerSecond} events/s`, closer.eventsPerSecond >= 2000);
    add("single p99", "<= 25 ms", `${closer.latencyMs.p99} ms`, closer.latencyMs.p99 <= 25 && closer.errors === 0);
    add("single ratio", ">= 0.5x baseline", `${single.ratio}x`, single.ratio >= 0.5);
  }
  if (batched) {
    const { closer } = batched;
    add(
      "batched throughput",
      ">= 10,000 events/s",
      `${closer.eventsPerSecond} events/s`,
      closer.eventsPerSecond >= 10_000,
    );
    add("batched ratio", ">= 0.5x baseline", `${batched.ratio}x`, batched.ratio >= 0.5);
  }
  if (r.decision) {
    const { latencyMs, missing, offeredPerSecond } = r.decision;
    const value = `${latencyMs.p99} ms${missing ? ` (${missing} decisions missing)` : ""}`;
    const complete = missing === 0 && r.decision.ingestErrors === 0;
    add("decision p99", `<= 100 ms at ${offeredPerSecond} events/s`, value, latencyMs.p99 <= 100 && complete);
  }
  if (r.worker) {
    const w = r.worker;
    add(
      "worker throughput",
      ">= 2,000 invocations/s",
      `${w.invocationsPerSecond} invocations/s`,
      w.invocationsPerSecond >= 2000 && w.complete,
    );
  }
  if (r.scheduler?.available) {
    const { burst, paced } = r.scheduler;
    add(
      "scheduler throughput",
      ">= 5,000 actions/s",
      `${burst.actionsPerSecond} actions/s`,
      burst.actionsPerSecond >= 5000,
    );
    const value = `${paced.latenessMs.p99} ms${paced.pending ? ` (${paced.pending} never sent)` : ""}`;
    add("scheduler lateness p99", "<= 500 ms", value, paced.latenessMs.p99 <= 500 && paced.pending === 0);
  }
  return out;
}
