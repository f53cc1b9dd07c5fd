-- CreateEnum
CREATE TYPE "CreatorStatus" AS ENUM ('ONBOARDING', 'ACTIVE', 'PAUSED', 'ARCHIVED');

-- CreateEnum
CREATE TYPE "QuietHoursPolicy" AS ENUM ('DEFER', 'SKIP');

-- CreateEnum
CREATE TYPE "ProfileSource" AS ENUM ('LLM', 'OFFLINE', 'MANUAL');

-- CreateEnum
CREATE TYPE "OnboardingStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED');

-- CreateEnum
CREATE TYPE "OnboardingStepStatus" AS ENUM ('STARTED', 'SUCCEEDED', 'FAILED');

-- CreateEnum
CREATE TYPE "Channel" AS ENUM ('EMAIL', 'WHATSAPP', 'WEBHOOK');

-- CreateEnum
CREATE TYPE "ConsentStatus" AS ENUM ('GRANTED', 'WITHDRAWN');

-- CreateEnum
CREATE TYPE "Stage" AS ENUM ('NEW', 'INTERESTED', 'ENGAGED', 'CONVERTED', 'LOST', 'UNSUBSCRIBED');

-- CreateEnum
CREATE TYPE "AgentRuntime" AS ENUM ('SIMPLE', 'LANGGRAPH', 'EXTERNAL_HTTP');

-- CreateEnum
CREATE TYPE "AgentStatus" AS ENUM ('ACTIVE', 'PAUSED');

-- CreateEnum
CREATE TYPE "InvocationStatus" AS ENUM ('QUEUED', 'RUNNING', 'COMPLETED', 'SKIPPED', 'FAILED');

-- CreateEnum
CREATE TYPE "ActionStatus" AS ENUM ('PLANNED', 'SENDING', 'SENT', 'FAILED', 'CANCELLED', 'SKIPPED');

-- CreateEnum
CREATE TYPE "ApiKeyKind" AS ENUM ('ADMIN', 'CREATOR', 'INGEST');

-- CreateTable
CREATE TABLE "creators" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "handle" TEXT NOT NULL,
    "email" TEXT,
    "phone" TEXT,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "status" "CreatorStatus" NOT NULL DEFAULT 'ACTIVE',
    "quietHoursStart" INTEGER NOT NULL DEFAULT 1260,
    "quietHoursEnd" INTEGER NOT NULL DEFAULT 480,
    "quietHoursPolicy" "QuietHoursPolicy" NOT NULL DEFAULT 'DEFER',
    "frequencyCaps" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "creators_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "creator_profiles" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "creatorId" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT false,
    "source" "ProfileSource" NOT NULL,
    "summary" TEXT NOT NULL,
    "salesPitch" TEXT NOT NULL,
    "targetAudience" TEXT NOT NULL,
    "valuePropositions" TEXT[],
    "services" JSONB NOT NULL DEFAULT '[]',
    "agentInstructions" TEXT NOT NULL,
    "objectionHandling" JSONB NOT NULL DEFAULT '[]',
    "model" TEXT,
    "promptTokens" INTEGER,
    "completionTokens" INTEGER,
    "latencyMs" INTEGER,
    "costEstimateUsd" DOUBLE PRECISION,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "creator_profiles_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "onboardings" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "creatorId" UUID NOT NULL,
    "status" "OnboardingStatus" NOT NULL DEFAULT 'QUEUED',
    "rawData" JSONB NOT NULL,
    "profileId" UUID,
    "agentId" UUID,
    "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "onboardings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "onboarding_logs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "onboardingId" UUID NOT NULL,
    "step" TEXT NOT NULL,
    "status" "OnboardingStepStatus" NOT NULL,
    "message" TEXT,
    "details" JSONB,
    "durationMs" INTEGER,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "onboarding_logs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "consumers" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "creatorId" UUID NOT NULL,
    "externalId" TEXT,
    "email" TEXT,
    "phone" TEXT,
    "name" TEXT,
    "timezone" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "consumers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "consumer_consents" (
    "consumerId" UUID NOT NULL,
    "channel" "Channel" NOT NULL,
    "status" "ConsentStatus" NOT NULL,
    "source" TEXT NOT NULL,
    "changedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "consumer_consents_pkey" PRIMARY KEY ("consumerId","channel")
);

-- CreateTable
CREATE TABLE "consumer_contexts" (
    "creatorId" UUID NOT NULL,
    "consumerId" UUID NOT NULL,
    "stage" "Stage" NOT NULL DEFAULT 'NEW',
    "lastSeenAt" TIMESTAMPTZ(3),
    "eventCount" INTEGER NOT NULL DEFAULT 0,
    "pageViews" INTEGER NOT NULL DEFAULT 0,
    "serviceClicks" INTEGER NOT NULL DEFAULT 0,
    "emailsSent" INTEGER NOT NULL DEFAULT 0,
    "emailsOpened" INTEGER NOT NULL DEFAULT 0,
    "whatsappSent" INTEGER NOT NULL DEFAULT 0,
    "whatsappReplied" INTEGER NOT NULL DEFAULT 0,
    "objections" INTEGER NOT NULL DEFAULT 0,
    "enrolled" BOOLEAN NOT NULL DEFAULT false,
    "counters" JSONB NOT NULL DEFAULT '{}',
    "attributes" JSONB NOT NULL DEFAULT '{}',
    "lastMessageAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "consumer_contexts_pkey" PRIMARY KEY ("creatorId","consumerId")
);

-- CreateTable
CREATE TABLE "events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "creatorId" UUID NOT NULL,
    "consumerId" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL DEFAULT '{}',
    "occurredAt" TIMESTAMPTZ(3) NOT NULL,
    "receivedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "idempotencyKey" TEXT,
    "bodyHash" TEXT,
    "processedAt" TIMESTAMPTZ(3),

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agents" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "creatorId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "runtime" "AgentRuntime" NOT NULL DEFAULT 'SIMPLE',
    "config" JSONB NOT NULL DEFAULT '{}',
    "status" "AgentStatus" NOT NULL DEFAULT 'ACTIVE',
    "profileId" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "agents_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agent_invocations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "agentId" UUID NOT NULL,
    "eventId" UUID NOT NULL,
    "creatorId" UUID NOT NULL,
    "consumerId" UUID NOT NULL,
    "status" "InvocationStatus" NOT NULL DEFAULT 'QUEUED',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "acted" BOOLEAN,
    "reason" TEXT,
    "decision" JSONB,
    "error" TEXT,
    "queuedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),
    "durationMs" INTEGER,

    CONSTRAINT "agent_invocations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "actions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "invocationId" UUID NOT NULL,
    "sequence" INTEGER NOT NULL,
    "creatorId" UUID NOT NULL,
    "consumerId" UUID NOT NULL,
    "channel" "Channel" NOT NULL,
    "payload" JSONB NOT NULL,
    "sendAt" TIMESTAMPTZ(3) NOT NULL,
    "priority" DOUBLE PRECISION NOT NULL DEFAULT 1,
    "status" "ActionStatus" NOT NULL DEFAULT 'PLANNED',
    "statusReason" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "providerResponse" JSONB,
    "providerMessageId" TEXT,
    "sentAt" TIMESTAMPTZ(3),
    "latenessMs" INTEGER,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "actions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "kind" "ApiKeyKind" NOT NULL,
    "creatorId" UUID,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMPTZ(3),
    "revokedAt" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_logs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "actorKeyId" UUID,
    "actorKind" "ApiKeyKind",
    "actorLabel" TEXT NOT NULL,
    "creatorId" UUID,
    "operation" TEXT NOT NULL,
    "targetType" TEXT,
    "targetId" TEXT,
    "details" JSONB,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_logs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "creators_handle_key" ON "creators"("handle");

-- CreateIndex
CREATE INDEX "creators_createdAt_id_idx" ON "creators"("createdAt", "id");

-- CreateIndex
CREATE UNIQUE INDEX "creator_profiles_creatorId_version_key" ON "creator_profiles"("creatorId", "version");

-- CreateIndex
CREATE INDEX "onboardings_creatorId_createdAt_idx" ON "onboardings"("creatorId", "createdAt");

-- CreateIndex
CREATE INDEX "onboarding_logs_onboardingId_createdAt_idx" ON "onboarding_logs"("onboardingId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "consumers_creatorId_externalId_key" ON "consumers"("creatorId", "externalId");

-- CreateIndex
CREATE UNIQUE INDEX "consumers_creatorId_email_key" ON "consumers"("creatorId", "email");

-- CreateIndex
CREATE UNIQUE INDEX "consumers_creatorId_phone_key" ON "consumers"("creatorId", "phone");

-- CreateIndex
CREATE UNIQUE INDEX "consumer_contexts_consumerId_key" ON "consumer_contexts"("consumerId");

-- CreateIndex
CREATE INDEX "consumer_contexts_creatorId_lastSeenAt_idx" ON "consumer_contexts"("creatorId", "lastSeenAt");

-- CreateIndex
CREATE INDEX "consumer_contexts_creatorId_stage_idx" ON "consumer_contexts"("creatorId", "stage");

-- CreateIndex
CREATE INDEX "events_creatorId_consumerId_idx" ON "events"("creatorId", "consumerId");

-- CreateIndex
CREATE INDEX "events_occurredAt_idx" ON "events"("occurredAt" DESC);

-- CreateIndex
CREATE INDEX "events_creatorId_receivedAt_id_idx" ON "events"("creatorId", "receivedAt", "id");

-- CreateIndex
CREATE UNIQUE INDEX "events_creatorId_idempotencyKey_key" ON "events"("creatorId", "idempotencyKey");

-- CreateIndex
CREATE UNIQUE INDEX "agents_creatorId_name_key" ON "agents"("creatorId", "name");

-- CreateIndex
CREATE INDEX "agent_invocations_creatorId_status_queuedAt_idx" ON "agent_invocations"("creatorId", "status", "queuedAt");

-- CreateIndex
CREATE UNIQUE INDEX "agent_invocations_agentId_eventId_key" ON "agent_invocations"("agentId", "eventId");

-- CreateIndex
CREATE INDEX "actions_creatorId_status_sendAt_idx" ON "actions"("creatorId", "status", "sendAt");

-- CreateIndex
CREATE INDEX "actions_consumerId_channel_sentAt_idx" ON "actions"("consumerId", "channel", "sentAt");

-- CreateIndex
CREATE INDEX "actions_providerMessageId_idx" ON "actions"("providerMessageId");

-- CreateIndex
CREATE UNIQUE INDEX "actions_invocationId_sequence_key" ON "actions"("invocationId", "sequence");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys"("hash");

-- CreateIndex
CREATE INDEX "api_keys_creatorId_idx" ON "api_keys"("creatorId");

-- CreateIndex
CREATE INDEX "audit_logs_creatorId_createdAt_idx" ON "audit_logs"("creatorId", "createdAt");

-- CreateIndex
CREATE INDEX "audit_logs_createdAt_idx" ON "audit_logs"("createdAt");

-- AddForeignKey
ALTER TABLE "creator_profiles" ADD CONSTRAINT "creator_profiles_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "onboardings" ADD CONSTRAINT "onboardings_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "onboardings" ADD CONSTRAINT "onboardings_profileId_fkey" FOREIGN KEY ("profileId") REFERENCES "creator_profiles"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "onboardings" ADD CONSTRAINT "onboardings_agentId_fkey" FOREIGN KEY ("agentId") REFERENCES "agents"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "onboarding_logs" ADD CONSTRAINT "onboarding_logs_onboardingId_fkey" FOREIGN KEY ("onboardingId") REFERENCES "onboardings"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consumers" ADD CONSTRAINT "consumers_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consumer_consents" ADD CONSTRAINT "consumer_consents_consumerId_fkey" FOREIGN KEY ("consumerId") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consumer_contexts" ADD CONSTRAINT "consumer_contexts_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consumer_contexts" ADD CONSTRAINT "consumer_contexts_consumerId_fkey" FOREIGN KEY ("consumerId") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "events" ADD CONSTRAINT "events_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "events" ADD CONSTRAINT "events_consumerId_fkey" FOREIGN KEY ("consumerId") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agents" ADD CONSTRAINT "agents_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_invocations" ADD CONSTRAINT "agent_invocations_agentId_fkey" FOREIGN KEY ("agentId") REFERENCES "agents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_invocations" ADD CONSTRAINT "agent_invocations_eventId_fkey" FOREIGN KEY ("eventId") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_invocations" ADD CONSTRAINT "agent_invocations_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "actions" ADD CONSTRAINT "actions_invocationId_fkey" FOREIGN KEY ("invocationId") REFERENCES "agent_invocations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "actions" ADD CONSTRAINT "actions_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "actions" ADD CONSTRAINT "actions_consumerId_fkey" FOREIGN KEY ("consumerId") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_creatorId_fkey" FOREIGN KEY ("creatorId") REFERENCES "creators"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Partial indexes Prisma's schema language cannot express (keep them when editing later migrations).
-- At most one active profile per creator.
CREATE UNIQUE INDEX "creator_profiles_one_active" ON "creator_profiles"("creatorId") WHERE "isActive";
-- The scheduler scans planned actions by due time only.
CREATE INDEX "actions_planned_send_at" ON "actions"("sendAt") WHERE "status" = 'PLANNED';
-- The dispatch sweeper scans events no worker has processed yet.
CREATE INDEX "events_unprocessed" ON "events"("receivedAt") WHERE "processedAt" IS NULL;

-- Adds two flat JSON objects of counters key by key, so a context update is one atomic UPDATE.
CREATE FUNCTION closer_add_counters(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(jsonb_object_agg(k, COALESCE((a ->> k)::bigint, 0) + COALESCE((b ->> k)::bigint, 0)), '{}'::jsonb)
  FROM (SELECT jsonb_object_keys(a) UNION SELECT jsonb_object_keys(b)) AS keys(k)
$$;

-- The stage rules of src/consumers/stage.ts, tested against each other. No semicolons in
-- comments here: the adapter splits migration scripts on them.
CREATE FUNCTION closer_next_stage(cur "Stage", inc "Stage") RETURNS "Stage"
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN inc = 'UNSUBSCRIBED' OR cur = 'UNSUBSCRIBED' THEN 'UNSUBSCRIBED'::"Stage"
    WHEN cur = 'CONVERTED' THEN cur
    WHEN inc = 'LOST' THEN inc
    WHEN cur = 'LOST' THEN CASE WHEN inc = 'NEW' THEN cur ELSE inc END
    ELSE GREATEST(cur, inc)
  END
$$;
