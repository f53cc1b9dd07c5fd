-- CreateIndex
CREATE INDEX "agent_invocations_consumerId_queuedAt_idx" ON "agent_invocations"("consumerId", "queuedAt");
