// The atomic context update of an ingestion, in one statement: counters add up in SQL (no
// read-modify-write), the stage moves by closer_next_stage, lastSeenAt only forward. A module of
// its own, free of imports, so the benchmark's plain-pg baseline runs the very same statement.

export const CONTEXT_UPSERT = `
INSERT INTO consumer_contexts AS c ("creatorId", "consumerId", stage, "lastSeenAt", "eventCount", "pageViews",
  "serviceClicks", "emailsOpened", "whatsappReplied", objections, enrolled, counters, attributes)
SELECT $1::uuid, d.* FROM unnest($2::uuid[], $3::"Stage"[], $4::timestamptz[], $5::int[], $6::int[], $7::int[], $8::int[],
  $9::int[], $10::int[], $11::bool[], $12::jsonb[], $13::jsonb[]) AS d
ORDER BY 1
ON CONFLICT ("creatorId", "consumerId") DO UPDATE SET
  stage = closer_next_stage(c.stage, EXCLUDED.stage),
  "lastSeenAt" = GREATEST(c."lastSeenAt", EXCLUDED."lastSeenAt"),
  "eventCount" = c."eventCount" + EXCLUDED."eventCount",
  "pageViews" = c."pageViews" + EXCLUDED."pageViews",
  "serviceClicks" = c."serviceClicks" + EXCLUDED."serviceClicks",
  "emailsOpened" = c."emailsOpened" + EXCLUDED."emailsOpened",
  "whatsappReplied" = c."whatsappReplied" + EXCLUDED."whatsappReplied",
  objections = c.objections + EXCLUDED.objections,
  enrolled = c.enrolled OR EXCLUDED.enrolled,
  counters = closer_add_counters(c.counters, EXCLUDED.counters),
  attributes = c.attributes || EXCLUDED.attributes,
  "updatedAt" = now()
RETURNING c.*`;
