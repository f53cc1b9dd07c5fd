import type { ActionStatus } from "../generated/prisma/enums.js";
import { publishFeed } from "../pubsub.js";

export type StatusChange = { id: string; creatorId: string; status: ActionStatus };

/** Publishes action status changes on the live feed (actionUpdates); call it after the change committed. */
export async function publishActionChanges(changes: StatusChange[]): Promise<void> {
  await Promise.all(
    changes.map((c) =>
      publishFeed("actions", c.creatorId, { creatorId: c.creatorId, actionId: c.id, status: c.status }),
    ),
  );
}
