import { db, pool } from "./db/client.js";
import { closeReadReplica } from "./db/reads.js";
import { closePubSub } from "./pubsub.js";
import { closeQueues } from "./queues.js";

/** Closes what a process shares between its parts: pub/sub, queue producers, the databases. Last at shutdown. */
export async function closeSharedConnections(): Promise<void> {
  await Promise.all([closePubSub(), closeQueues()]);
  await Promise.all([db.$disconnect(), closeReadReplica()]);
  await pool.end().catch(() => {});
}

/**
 * Runs `stop` once on the first SIGINT or SIGTERM (Ctrl-C on `npm start` sends both), then exits.
 * A later signal while stopping is ignored: draining is already under way.
 */
export function onShutdownSignal(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stop(signal).then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", handle);
  process.on("SIGTERM", handle);
}
