import type { Sql } from "../db/transaction.js";
import type { WhatsAppTemplate } from "../generated/prisma/client.js";
import type {
  WhatsAppTemplateCategory,
  WhatsAppTemplatePurpose,
  WhatsAppTemplateStatus,
  WhatsAppTemplateVariable,
} from "../generated/prisma/enums.js";

// The whatsapp_templates table: a creator's WhatsApp message templates and their review status.

/** Every column; the enum array as text[], which node-postgres parses (it leaves unknown array types as text). */
const COLUMNS = `id, "creatorId", name, language, category, purpose, body, variables::text[] AS variables, status,
  "statusReason", "statusChangedAt", "createdAt", "updatedAt"`;

/** A template's fields as registered (checked by template-service.ts). */
export type TemplateFields = {
  creatorId: string;
  name: string;
  language: string;
  category: WhatsAppTemplateCategory;
  purpose: WhatsAppTemplatePurpose;
  body: string;
  variables: WhatsAppTemplateVariable[];
};

/** Inserts a PENDING template; raises PostgreSQL's 23505 when the creator has one of that name and language. */
export async function insertTemplate(tx: Sql, fields: TemplateFields): Promise<WhatsAppTemplate> {
  const { rows } = await tx.query<WhatsAppTemplate>(
    `INSERT INTO whatsapp_templates ("creatorId", name, language, category, purpose, body, variables)
     VALUES ($1, $2, $3, $4::"WhatsAppTemplateCategory", $5::"WhatsAppTemplatePurpose", $6, $7::"WhatsAppTemplateVariable"[])
     RETURNING ${COLUMNS}`,
    [fields.creatorId, fields.name, fields.language, fields.category, fields.purpose, fields.body, fields.variables],
  );
  return rows[0];
}

/**
 * Serialises registrations of one name and language on the platform's shared number until the
 * transaction ends, so two creators sharing it cannot both take the name (Meta keys a WhatsApp
 * Business Account's templates by name and language).
 */
export async function lockSharedNumberTemplateName(tx: Sql, name: string, language: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
    `whatsapp-template:shared-number:${name}:${language}`,
  ]);
}

/** The creator's handle, and whether it sends from the platform's shared number (no sender of its own); null when unknown. */
export async function templateOwner(
  tx: Sql,
  creatorId: string,
): Promise<{ handle: string; sharedNumber: boolean } | null> {
  const { rows } = await tx.query<{ handle: string; sharedNumber: boolean }>(
    `SELECT c.handle, NOT EXISTS (SELECT 1 FROM whatsapp_senders s WHERE s."creatorId" = c.id) AS "sharedNumber"
       FROM creators c WHERE c.id = $1`,
    [creatorId],
  );
  return rows[0] ?? null;
}

/** Whether another creator on the shared number (no sender of its own) has a template of that name and language. */
export async function sharedNumberTemplateTaken(
  tx: Sql,
  creatorId: string,
  name: string,
  language: string,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `SELECT 1 FROM whatsapp_templates t
      WHERE t.name = $2 AND t.language = $3 AND t."creatorId" <> $1
        AND NOT EXISTS (SELECT 1 FROM whatsapp_senders s WHERE s."creatorId" = t."creatorId")
      LIMIT 1`,
    [creatorId, name, language],
  );
  return (rowCount ?? 0) > 0;
}

export async function findTemplateForUpdate(tx: Sql, id: string): Promise<WhatsAppTemplate | null> {
  const { rows } = await tx.query<WhatsAppTemplate>(
    `SELECT ${COLUMNS} FROM whatsapp_templates WHERE id = $1 FOR UPDATE`,
    [id],
  );
  return rows[0] ?? null;
}

/** Sets the review status and its reason (null clears it). */
export async function updateTemplateStatus(
  tx: Sql,
  id: string,
  status: WhatsAppTemplateStatus,
  reason: string | null,
): Promise<WhatsAppTemplate> {
  const { rows } = await tx.query<WhatsAppTemplate>(
    `UPDATE whatsapp_templates
        SET status = $2::"WhatsAppTemplateStatus", "statusReason" = $3, "statusChangedAt" = now(), "updatedAt" = now()
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, status, reason],
  );
  return rows[0];
}

/** What the send rules need of a template: which one it is, its status, body and variables. */
export type TemplateAtSend = Pick<
  WhatsAppTemplate,
  "creatorId" | "name" | "language" | "status" | "statusReason" | "body" | "variables"
>;

/**
 * The templates named by (creator, name, language), read FOR SHARE inside the send rules'
 * transaction, in a fixed order: a status change committing meanwhile waits for the sends to be
 * marked dispatched. A name not registered is absent.
 */
export async function templatesAtSend(
  tx: Sql,
  named: { creatorId: string; name: string; language: string }[],
): Promise<TemplateAtSend[]> {
  if (named.length === 0) return [];
  const { rows } = await tx.query<TemplateAtSend>(
    `SELECT "creatorId", name, language, status, "statusReason", body, variables::text[] AS variables
       FROM whatsapp_templates
      WHERE ("creatorId", name, language) IN (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]))
      ORDER BY id FOR SHARE`,
    [named.map((t) => t.creatorId), named.map((t) => t.name), named.map((t) => t.language)],
  );
  return rows;
}
