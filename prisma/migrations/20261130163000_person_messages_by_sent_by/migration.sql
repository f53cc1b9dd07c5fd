-- Checks the existing rows against the foreign key added NOT VALID by the previous migration
-- (SHARE UPDATE EXCLUSIVE: writes go on meanwhile).
ALTER TABLE "actions" VALIDATE CONSTRAINT "actions_invocationId_fkey";

-- sentBy now tells a person's message from an agent's (an agent's may lose its run to event
-- retention). A person's message that fell back to another channel got no sentBy until now: the
-- fallback takes its original's (named in the fallback's reason while it waits), else the system's.
-- Until this migration every action without a run was a person's (retention keeps messages only
-- from the previous migration on, and drops nothing younger than a year).
UPDATE "actions" f SET "sentBy" = o."sentBy"
  FROM "actions" o
 WHERE f."invocationId" IS NULL AND f."sentBy" IS NULL
   AND f."statusReason" LIKE 'fallback for action %'
   AND o.id::text = substring(f."statusReason" FROM '^fallback for action ([0-9a-f-]{36})')
   AND o."sentBy" IS NOT NULL;
UPDATE "actions" SET "sentBy" = 'system' WHERE "invocationId" IS NULL AND "sentBy" IS NULL;
