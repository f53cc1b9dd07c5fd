import { config, loadConfigOrExit } from "./config.js";

// Configuration is checked before anything connects, with one line per bad value.
loadConfigOrExit();

const { logger } = await import("./logger.js");
const { startApiServer } = await import("./api/http-server.js");
const { onShutdownSignal } = await import("./shutdown.js");
const server = await startApiServer(config().PORT, config().HOST);
// Where to go next, as a newcomer reads it (0.0.0.0 is every interface: localhost is one of them).
const base = `http://${["0.0.0.0", "::"].includes(config().HOST) ? "localhost" : config().HOST}:${server.port}`;
logger.info({ port: server.port }, `Closer API listening: GraphiQL at ${base}/graphql, the ops console at ${base}/ops`);

onShutdownSignal(async (signal) => {
  logger.info({ signal }, "draining requests");
  await server.close();
});
