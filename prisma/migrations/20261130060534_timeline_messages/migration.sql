-- CreateIndex
CREATE INDEX "actions_consumerId_createdAt_idx" ON "actions"("consumerId", "createdAt");
