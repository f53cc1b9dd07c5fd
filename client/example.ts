// The README's example of the typed client ("A typed client for frontends"), word for word but for
// the import path: here tsc checks it, and test/client.test.ts checks the README still shows it.
import { AgentDecisionsDocument, CloserRequestError, ConsumerTimelineDocument, closerClient } from "./index.js";

const closer = closerClient({ url: "http://localhost:4000/graphql", apiKey: process.env.CLOSER_KEY ?? "clsr_..." });
const [creatorId, consumerId] = process.argv.slice(2); // global ids, as the API gives them

const stop = closer.subscribe(
  AgentDecisionsDocument,
  { creatorId },
  (data) => console.log(data.agentDecisions?.reason),
  (error) => console.error(error instanceof CloserRequestError ? `${error.code}: ${error.message}` : error),
);
const { node } = await closer.request(ConsumerTimelineDocument, { consumerId, first: 20 });
if (node?.__typename === "Consumer") {
  for (const { node: item } of node.timeline.edges) console.log(item.__typename);
}
stop();
