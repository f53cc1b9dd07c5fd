-- AlterTable
ALTER TABLE "actions" ADD COLUMN     "claimedAt" TIMESTAMPTZ(3),
ADD COLUMN     "dispatchedAt" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "consumers_phone_idx" ON "consumers"("phone");

-- Partial index Prisma's schema language cannot express (keep it when editing later migrations).
-- Lease recovery scans actions left in SENDING by a worker that stopped.
CREATE INDEX "actions_sending_claimed_at" ON "actions"("claimedAt") WHERE "status" = 'SENDING';
