-- AlterTable
ALTER TABLE "actions" ADD COLUMN     "sentBy" TEXT,
ALTER COLUMN "invocationId" DROP NOT NULL;
