-- AlterTable
ALTER TABLE "whatsapp_callback_items" ADD COLUMN     "claimedUntil" TIMESTAMPTZ(3);
