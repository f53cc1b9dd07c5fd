-- The events table partitioned by month of "receivedAt" (declarative range partitioning), its rows
-- kept. src/events/event-partition-store.ts says why by month, and makes the months after the
-- first partition, and src/events/event-partitions.ts drops those past EVENT_RETENTION_DAYS.
-- No semicolons in these comments: the adapter splits migration scripts on every one.

-- Every unique constraint of a partitioned table holds its partition key, so a foreign key to an
-- event names its receivedAt too: agent invocations keep their event's.
ALTER TABLE "agent_invocations" DROP CONSTRAINT "agent_invocations_eventId_fkey";
ALTER TABLE "agent_invocations" ADD COLUMN "eventReceivedAt" TIMESTAMPTZ(3);
UPDATE "agent_invocations" i SET "eventReceivedAt" = e."receivedAt" FROM "events" e WHERE e."id" = i."eventId";
ALTER TABLE "agent_invocations" ALTER COLUMN "eventReceivedAt" SET NOT NULL;

-- The table as it was steps aside, its index names freed for the partitioned one.
ALTER TABLE "events" RENAME TO "events_unpartitioned";
ALTER TABLE "events_unpartitioned" DROP CONSTRAINT "events_pkey";
DROP INDEX "events_creatorId_consumerId_occurredAt_idx";
DROP INDEX "events_creatorId_idempotencyKey_key";
DROP INDEX "events_creatorId_receivedAt_id_idx";
DROP INDEX "events_creatorId_type_occurredAt_idx";
DROP INDEX "events_occurredAt_idx";
DROP INDEX "events_outcome_action";
DROP INDEX "events_unprocessed";
DROP STATISTICS "events_outcome_action_stats";

CREATE TABLE "events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "creatorId" UUID NOT NULL,
    "consumerId" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL DEFAULT '{}',
    "occurredAt" TIMESTAMPTZ(3) NOT NULL,
    "receivedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "idempotencyKey" TEXT,
    "bodyHash" TEXT,
    "processedAt" TIMESTAMPTZ(3),
    "failedAt" TIMESTAMPTZ(3),
    "failureReason" TEXT,
    "contextSnapshot" JSONB,

    CONSTRAINT "events_pkey" PRIMARY KEY ("id","receivedAt")
) PARTITION BY RANGE ("receivedAt");

-- One partition holds every row received before the end of the month (UTC) this migration runs
-- in, whenever that is: the worker makes the months after it ahead of time, and ingestion makes
-- the month it needs when the worker has not.
CREATE TABLE "events_p_initial" PARTITION OF "events"
  FOR VALUES FROM (MINVALUE) TO (date_trunc('month', (CURRENT_TIMESTAMP AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC');

INSERT INTO "events" ("id", "creatorId", "consumerId", "type", "payload", "occurredAt", "receivedAt", "idempotencyKey",
                      "bodyHash", "processedAt", "failedAt", "failureReason", "contextSnapshot")
SELECT "id", "creatorId", "consumerId", "type", "payload", "occurredAt", "receivedAt", "idempotencyKey",
       "bodyHash", "processedAt", "failedAt", "failureReason", "contextSnapshot"
  FROM "events_unpartitioned";

-- A creator's idempotency keys, one event each: a unique index on the partitioned table would hold
-- within one partition only.
CREATE TABLE "event_idempotency_keys" (
    "creatorId" UUID NOT NULL,
    "idempotencyKey" TEXT NOT NULL,
    "eventId" UUID NOT NULL,
    "eventReceivedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "event_idempotency_keys_pkey" PRIMARY KEY ("creatorId","idempotencyKey")
);
INSERT INTO "event_idempotency_keys" ("creatorId", "idempotencyKey", "eventId", "eventReceivedAt")
SELECT "creatorId", "idempotencyKey", "id", "receivedAt" FROM "events_unpartitioned" WHERE "idempotencyKey" IS NOT NULL;

DROP TABLE "events_unpartitioned";

-- Indexes made once the rows are in, each a partitioned index: every partition gets its own.
CREATE INDEX "events_creatorId_consumerId_occurredAt_idx" ON "events"("creatorId", "consumerId", "occurredAt");
CREATE INDEX "events_occurredAt_idx" ON "events"("occurredAt" DESC);
CREATE INDEX "events_creatorId_receivedAt_id_idx" ON "events"("creatorId", "receivedAt", "id");
CREATE INDEX "events_creatorId_type_occurredAt_idx" ON "events"("creatorId", "type", "occurredAt");
-- The indexes and statistics Prisma's schema language cannot express, as before (creator_analytics,
-- outages: keep them when editing later migrations). The planner plans each partition on its own
-- statistics, which a partition does not inherit: the first partition gets the expression's here,
-- the later ones copy the table's when they are made (CREATE TABLE ... LIKE events INCLUDING ALL).
CREATE INDEX "events_outcome_action" ON "events"(("payload" ->> 'actionId'))
  WHERE "type" IN ('email_delivered', 'email_bounced', 'email_opened', 'whatsapp_delivered', 'whatsapp_read', 'whatsapp_failed');
CREATE STATISTICS "events_outcome_action_stats" ON (("payload" ->> 'actionId')) FROM "events";
CREATE STATISTICS "events_p_initial_outcome_action_stats" ON (("payload" ->> 'actionId')) FROM "events_p_initial";
CREATE INDEX "events_unprocessed" ON "events"("receivedAt") WHERE "processedAt" IS NULL AND "failedAt" IS NULL;

CREATE UNIQUE INDEX "event_idempotency_keys_eventId_eventReceivedAt_key" ON "event_idempotency_keys"("eventId", "eventReceivedAt");
CREATE INDEX "agent_invocations_eventId_eventReceivedAt_idx" ON "agent_invocations"("eventId", "eventReceivedAt");

ALTER TABLE "events" ADD CONSTRAINT "events_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "events" ADD CONSTRAINT "events_consumerId_fkey" FOREIGN KEY ("consumerId") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "event_idempotency_keys" ADD CONSTRAINT "event_idempotency_keys_eventId_eventReceivedAt_fkey" FOREIGN KEY ("eventId", "eventReceivedAt") REFERENCES "events"("id", "receivedAt") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "agent_invocations" ADD CONSTRAINT "agent_invocations_eventId_eventReceivedAt_fkey" FOREIGN KEY ("eventId", "eventReceivedAt") REFERENCES "events"("id", "receivedAt") ON DELETE CASCADE ON UPDATE CASCADE;
