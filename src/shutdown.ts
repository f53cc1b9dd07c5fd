import { db, pool } from "./db/client.js";
import { closePubSub } from "./pubsub.js";
import { closeQueues } from "./queues.js";

/** Closes what a process shares between its parts: pub/sub, queue producers, the database. Last at shutdown. */
export async function closeSharedConnections(): Promise<void> {
  await Promise.all([closePubSub(), closeQueues()]);
  await db.$disconnect();
  await pool.end().catch(() => {});
}
