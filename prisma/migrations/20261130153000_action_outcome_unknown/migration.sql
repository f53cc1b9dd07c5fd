-- AlterTable
ALTER TABLE "actions" ADD COLUMN     "outcomeUnknown" BOOLEAN NOT NULL DEFAULT false;

-- Failures recorded before the column whose message may have gone out, by the reasons the
-- scheduler wrote for them (a provider call with no answer, a worker stopped mid-call).
UPDATE "actions" SET "outcomeUnknown" = true
 WHERE status = 'FAILED' AND "dispatchedAt" IS NOT NULL
   AND ("statusReason" LIKE 'outcome unknown%' OR "statusReason" LIKE 'interrupted:%');
