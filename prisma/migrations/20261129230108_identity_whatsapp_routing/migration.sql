-- CreateEnum
CREATE TYPE "CallbackItemOutcome" AS ENUM ('RECORDED', 'IGNORED', 'UNROUTED', 'FAILED');

-- AlterTable
ALTER TABLE "actions" ADD COLUMN     "sentFrom" TEXT;

-- AlterTable
ALTER TABLE "consumers" ADD COLUMN     "waId" TEXT;

-- AlterTable
ALTER TABLE "events" ADD COLUMN     "contextSnapshot" JSONB;

-- CreateTable
CREATE TABLE "consumer_identity_conflicts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "creatorId" UUID NOT NULL,
    "consumerId" UUID NOT NULL,
    "field" TEXT NOT NULL,
    "keptValue" TEXT,
    "offeredValue" TEXT NOT NULL,
    "heldById" UUID,
    "occurrences" INTEGER NOT NULL DEFAULT 1,
    "firstSeenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "consumer_identity_conflicts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "whatsapp_senders" (
    "creatorId" UUID NOT NULL,
    "phoneNumberId" TEXT NOT NULL,
    "accessToken" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "whatsapp_senders_pkey" PRIMARY KEY ("creatorId")
);

-- CreateTable
CREATE TABLE "whatsapp_callback_items" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "itemKey" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "phoneNumberId" TEXT,
    "body" JSONB NOT NULL,
    "receivedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "outcome" "CallbackItemOutcome",
    "reason" TEXT,
    "creatorIds" UUID[],
    "processedAt" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "whatsapp_callback_items_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "consumer_identity_conflicts_creatorId_lastSeenAt_idx" ON "consumer_identity_conflicts"("creatorId", "lastSeenAt");

-- CreateIndex
CREATE UNIQUE INDEX "consumer_identity_conflicts_consumerId_field_offeredValue_key" ON "consumer_identity_conflicts"("consumerId", "field", "offeredValue");

-- CreateIndex
CREATE UNIQUE INDEX "whatsapp_senders_phoneNumberId_key" ON "whatsapp_senders"("phoneNumberId");

-- CreateIndex
CREATE UNIQUE INDEX "whatsapp_callback_items_itemKey_key" ON "whatsapp_callback_items"("itemKey");

-- CreateIndex
CREATE INDEX "whatsapp_callback_items_outcome_receivedAt_idx" ON "whatsapp_callback_items"("outcome", "receivedAt");

-- CreateIndex
CREATE INDEX "whatsapp_callback_items_receivedAt_idx" ON "whatsapp_callback_items"("receivedAt");

-- CreateIndex
CREATE INDEX "consumers_waId_idx" ON "consumers"("waId");

-- AddForeignKey
ALTER TABLE "consumer_identity_conflicts" ADD CONSTRAINT "consumer_identity_conflicts_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consumer_identity_conflicts" ADD CONSTRAINT "consumer_identity_conflicts_consumerId_fkey" FOREIGN KEY ("consumerId") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consumer_identity_conflicts" ADD CONSTRAINT "consumer_identity_conflicts_heldById_fkey" FOREIGN KEY ("heldById") REFERENCES "consumers"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "whatsapp_senders" ADD CONSTRAINT "whatsapp_senders_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;
