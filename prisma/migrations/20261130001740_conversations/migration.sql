-- CreateEnum
CREATE TYPE "ConversationHolder" AS ENUM ('AGENT', 'PERSON', 'CLOSED');

-- CreateEnum
CREATE TYPE "MessageDirection" AS ENUM ('INBOUND', 'OUTBOUND');

-- CreateTable
CREATE TABLE "conversations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "creatorId" UUID NOT NULL,
    "consumerId" UUID NOT NULL,
    "channel" "Channel" NOT NULL,
    "holder" "ConversationHolder" NOT NULL DEFAULT 'AGENT',
    "holderReason" TEXT,
    "lastInboundAt" TIMESTAMPTZ(3),
    "lastOutboundAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "conversations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "conversation_messages" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "conversationId" UUID NOT NULL,
    "direction" "MessageDirection" NOT NULL,
    "text" TEXT,
    "eventId" UUID,
    "actionId" UUID,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "conversation_messages_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "conversations_creatorId_holder_updatedAt_idx" ON "conversations"("creatorId", "holder", "updatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "conversations_consumerId_channel_key" ON "conversations"("consumerId", "channel");

-- CreateIndex
CREATE UNIQUE INDEX "conversation_messages_eventId_key" ON "conversation_messages"("eventId");

-- CreateIndex
CREATE UNIQUE INDEX "conversation_messages_actionId_key" ON "conversation_messages"("actionId");

-- CreateIndex
CREATE INDEX "conversation_messages_conversationId_at_idx" ON "conversation_messages"("conversationId", "at");

-- AddForeignKey
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_consumerId_fkey" FOREIGN KEY ("consumerId") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversation_messages" ADD CONSTRAINT "conversation_messages_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "conversations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
