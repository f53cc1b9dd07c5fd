import type { Sql } from "../db/transaction.js";
import { SYSTEM_ACTOR, type Viewer } from "../viewer.js";

// The audit_logs table: who changed what, when. Read through GraphQL (auditLog).

export type AuditEntry = {
  operation: string;
  creatorId?: string | null;
  targetType?: string;
  targetId?: string;
  /** Never contact details: the audit log is read by operators. A JSON-serialisable object. */
  details?: Record<string, unknown>;
};

/** Written in the transaction of the change it records (`tx`), so neither exists without the other. */
export async function recordAudit(tx: Sql, actor: Viewer | null, entry: AuditEntry): Promise<void> {
  await tx.query(
    `INSERT INTO audit_logs ("actorKeyId", "actorKind", "actorLabel", "creatorId", operation, "targetType", "targetId", details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      actor?.keyId ?? null,
      actor?.kind ?? null,
      actor?.label ?? SYSTEM_ACTOR,
      entry.creatorId ?? null,
      entry.operation,
      entry.targetType ?? null,
      entry.targetId ?? null,
      entry.details === undefined ? null : JSON.stringify(entry.details),
    ],
  );
}
