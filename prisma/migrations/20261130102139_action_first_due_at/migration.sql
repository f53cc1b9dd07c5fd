-- AlterTable
ALTER TABLE "actions" ADD COLUMN     "firstDueAt" TIMESTAMPTZ(3);
