import { ConfigError, loadConfig } from "../src/config.js";

// Hosts the delivery scheduler in a process of its own while worker/worker.ts does not start it
// (bench/run.ts uses the worker instead once it does). Tells the parent over IPC when it runs.
try {
  loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

const { startScheduler } = await import("../src/delivery/scheduler.js");
const { db, pool } = await import("../src/db/client.js");
const { closePubSub } = await import("../src/pubsub.js");

const scheduler = startScheduler();
process.send?.({ ready: true });

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await scheduler.stop();
    await closePubSub();
    await db.$disconnect();
    await pool.end().catch(() => {});
    process.exit(0);
  });
}
