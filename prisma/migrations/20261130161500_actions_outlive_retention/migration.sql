-- An agent's message outlives its decision when event retention drops the decision's month.
-- DropForeignKey
ALTER TABLE "actions" DROP CONSTRAINT "actions_invocationId_fkey";

-- AddForeignKey, NOT VALID: checking every existing row here would block writes to actions for
-- the whole scan: the next migration validates it without blocking them.
ALTER TABLE "actions" ADD CONSTRAINT "actions_invocationId_fkey" FOREIGN KEY ("invocationId") REFERENCES "agent_invocations"("id") ON DELETE SET NULL ON UPDATE CASCADE NOT VALID;
