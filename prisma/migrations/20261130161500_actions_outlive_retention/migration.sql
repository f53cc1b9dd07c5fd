-- An agent's message outlives its decision when event retention drops the decision's month.
-- DropForeignKey
ALTER TABLE "actions" DROP CONSTRAINT "actions_invocationId_fkey";

-- AddForeignKey
ALTER TABLE "actions" ADD CONSTRAINT "actions_invocationId_fkey" FOREIGN KEY ("invocationId") REFERENCES "agent_invocations"("id") ON DELETE SET NULL ON UPDATE CASCADE;
