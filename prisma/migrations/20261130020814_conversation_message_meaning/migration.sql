-- AlterTable
ALTER TABLE "conversation_messages" ADD COLUMN     "intent" TEXT,
ADD COLUMN     "topic" TEXT;
