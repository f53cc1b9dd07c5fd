-- CreateEnum
CREATE TYPE "WhatsAppTemplateCategory" AS ENUM ('MARKETING', 'UTILITY', 'AUTHENTICATION');

-- CreateEnum
CREATE TYPE "WhatsAppTemplateStatus" AS ENUM ('PENDING', 'APPROVED', 'REJECTED', 'PAUSED', 'DISABLED', 'IN_APPEAL');

-- CreateEnum
CREATE TYPE "WhatsAppTemplatePurpose" AS ENUM ('WELCOME', 'FOLLOW_UP', 'THANK_YOU');

-- CreateEnum
CREATE TYPE "WhatsAppTemplateVariable" AS ENUM ('CONSUMER_NAME', 'CREATOR_NAME', 'SERVICE_NAME', 'SERVICE_URL', 'SERVICE_PRICE', 'SERVICE_PITCH');

-- CreateTable
CREATE TABLE "whatsapp_templates" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "creatorId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "language" TEXT NOT NULL,
    "category" "WhatsAppTemplateCategory" NOT NULL,
    "purpose" "WhatsAppTemplatePurpose" NOT NULL,
    "body" TEXT NOT NULL,
    "variables" "WhatsAppTemplateVariable"[],
    "status" "WhatsAppTemplateStatus" NOT NULL DEFAULT 'PENDING',
    "statusReason" TEXT,
    "statusChangedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "whatsapp_templates_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "whatsapp_templates_creatorId_status_idx" ON "whatsapp_templates"("creatorId", "status");

-- CreateIndex
CREATE INDEX "whatsapp_templates_creatorId_createdAt_idx" ON "whatsapp_templates"("creatorId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "whatsapp_templates_creatorId_name_language_key" ON "whatsapp_templates"("creatorId", "name", "language");

-- AddForeignKey
ALTER TABLE "whatsapp_templates" ADD CONSTRAINT "whatsapp_templates_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;
