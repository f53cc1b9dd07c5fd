-- DropIndex
DROP INDEX "events_creatorId_consumerId_idx";

-- CreateIndex
CREATE INDEX "events_creatorId_consumerId_occurredAt_idx" ON "events"("creatorId", "consumerId", "occurredAt");
