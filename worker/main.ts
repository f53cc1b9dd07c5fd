import { config, loadConfigOrExit } from "../src/config.js";

// The worker process: agent runs, onboarding, the dispatch sweeper and the delivery scheduler.
// It only registers processors; the work itself lives in the domain folders.
loadConfigOrExit();

process.env.CLOSER_PROCESS ??= "closer-worker";
const { startWorker } = await import("./worker.js");
const { logger } = await import("../src/logger.js");
const { closeSharedConnections, onShutdownSignal } = await import("../src/shutdown.js");

const worker = await startWorker();
logger.info({ metricsPort: config().WORKER_METRICS_PORT }, "Closer worker started");

onShutdownSignal(async (signal) => {
  logger.info({ signal }, "worker shutting down: finishing running jobs");
  await worker.close();
  await closeSharedConnections();
});
