-- AlterTable
ALTER TABLE "actions" ADD COLUMN     "leaseExpiresAt" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "events" ADD COLUMN     "failedAt" TIMESTAMPTZ(3),
ADD COLUMN     "failureReason" TEXT;

-- Claims in flight when this migration runs keep the lease they had (the default 300 s).
UPDATE "actions" SET "leaseExpiresAt" = "claimedAt" + interval '300 seconds' WHERE "status" = 'SENDING';

-- The lease recovery looks for SENDING actions past their lease.
DROP INDEX "actions_sending_claimed_at";
CREATE INDEX "actions_sending_lease" ON "actions"("leaseExpiresAt") WHERE "status" = 'SENDING';

-- The dispatch sweeper looks for events neither processed nor dead-lettered.
DROP INDEX "events_unprocessed";
CREATE INDEX "events_unprocessed" ON "events"("receivedAt") WHERE "processedAt" IS NULL AND "failedAt" IS NULL;
