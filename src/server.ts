import { config, loadConfigOrExit } from "./config.js";

// Configuration is checked before anything connects, with one line per bad value.
loadConfigOrExit();

const { logger } = await import("./logger.js");
const { startApiServer } = await import("./api/http-server.js");
const { onShutdownSignal } = await import("./shutdown.js");
const server = await startApiServer(config().PORT, config().HOST);
logger.info({ port: server.port }, "Closer API listening: GraphiQL at /graphql");

onShutdownSignal(async (signal) => {
  logger.info({ signal }, "draining requests");
  await server.close();
});
