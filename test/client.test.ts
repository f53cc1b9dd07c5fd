import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  AgentDecisionsDocument,
  type AgentDecisionsSubscription,
  CloserRequestError,
  ConsumerTimelineDocument,
  closerClient,
  FindConsumersDocument,
  IngestEventDocument,
} from "../client/index.js";
import { useApi } from "./support/api.js";
import { creatorWithAgent } from "./support/operations.js";
import { eventually } from "./support/processes.js";

// The typed client a frontend would use, against the real API: a decision streams to it over SSE
// while an event goes in, then the consumer is found and their timeline read, all typed.

const api = useApi({ worker: true });

describe("the typed client", () => {
  it("ingests, streams the decision, finds the consumer and reads the timeline, with the key's rights", async () => {
    const owner = await creatorWithAgent(api);
    const dashboard = closerClient({ url: api.url, apiKey: owner.creatorKey });
    const tracker = closerClient({ url: api.url, apiKey: owner.ingestKey });
    const decisions: AgentDecisionsSubscription[] = [];
    const failures: unknown[] = [];
    const stop = dashboard.subscribe(
      AgentDecisionsDocument,
      { creatorId: owner.gid },
      (d) => decisions.push(d),
      (error) => failures.push(error),
    );
    try {
      // Let the subscription open before the event goes in.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ingested = await tracker.request(IngestEventDocument, {
        creatorId: owner.gid,
        event: {
          consumer: {
            externalId: "client-1",
            email: "client@example.org",
            consents: [{ channel: "EMAIL", granted: true }],
          },
          type: "page_view",
        },
      });
      expect(ingested.ingestEvent.__typename).toBe("IngestedEvent");

      const decision = await eventually(async () =>
        decisions.find((d) => d.agentDecisions?.status === "COMPLETED" || d.agentDecisions?.status === "SKIPPED"),
      );
      expect(decision.agentDecisions?.event?.type).toBe("page_view");
      expect(failures).toEqual([]);

      const found = await dashboard.request(FindConsumersDocument, {
        creatorId: owner.gid,
        filter: { email: "Client@Example.org" },
      });
      const consumer = found.node?.__typename === "Creator" ? found.node.consumers.edges[0]?.node : undefined;
      expect(consumer?.externalId).toBe("client-1");

      const timeline = await dashboard.request(ConsumerTimelineDocument, { consumerId: consumer?.id as string });
      const kinds =
        timeline.node?.__typename === "Consumer" ? timeline.node.timeline.edges.map((e) => e.node.__typename) : [];
      expect(kinds).toEqual(expect.arrayContaining(["Event", "AgentInvocation"]));

      // An ingest key may not read the timeline: a typed error with its code.
      await expect(tracker.request(ConsumerTimelineDocument, { consumerId: consumer?.id as string })).rejects.toSatisfy(
        (error) => error instanceof CloserRequestError && error.code === "FORBIDDEN",
      );
    } finally {
      stop();
      dashboard.close();
      tracker.close();
    }
  });

  it("is shown in the README as client/example.ts has it, which tsc checks", () => {
    const example = readFileSync("client/example.ts", "utf8");
    const code = example.slice(example.search(/^import /m)).replace('from "./index.js"', 'from "./client/index.js"');
    expect(readFileSync("README.md", "utf8")).toContain(`\`\`\`ts\n${code}\`\`\``);
  });
});
