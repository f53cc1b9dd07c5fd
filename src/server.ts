import cluster from "node:cluster";
import { config, loadConfigOrExit } from "./config.js";

// Configuration is checked before anything connects, with one line per bad value.
loadConfigOrExit();

if (config().API_PROCESSES > 1 && cluster.isPrimary) {
  // The cluster's primary starts the API processes and serves nothing itself (api/processes.ts).
  const { runApiCluster } = await import("./api/processes.js");
  runApiCluster(config().API_PROCESSES);
} else {
  const { logger } = await import("./logger.js");
  const { startApiServer } = await import("./api/http-server.js");
  const { onShutdownSignal } = await import("./shutdown.js");
  if (cluster.isWorker) await (await import("./api/processes.js")).joinCluster();
  const server = await startApiServer(config().PORT, config().HOST);
  // Where to go next, as a newcomer reads it (0.0.0.0 is every interface: localhost is one of them).
  const base = `http://${["0.0.0.0", "::"].includes(config().HOST) ? "localhost" : config().HOST}:${server.port}`;
  if (!cluster.isWorker || cluster.worker?.id === 1) {
    logger.info(
      { port: server.port, processes: config().API_PROCESSES },
      `Closer API listening: GraphiQL at ${base}/graphql, the ops console at ${base}/ops`,
    );
  }
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, "draining requests");
    await server.close();
  });
}
