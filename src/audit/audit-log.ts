import { SYSTEM_ACTOR, type Viewer } from "../auth/viewer.js";
import type { Tx } from "../db/client.js";
import type { Prisma } from "../generated/prisma/client.js";

export type AuditEntry = {
  operation: string;
  creatorId?: string | null;
  targetType?: string;
  targetId?: string;
  /** Never contact details: the audit log is read by operators. */
  details?: Prisma.InputJsonValue;
};

/** Written in the transaction of the change it records, so neither exists without the other. */
export async function recordAudit(tx: Tx, actor: Viewer | null, entry: AuditEntry): Promise<void> {
  await tx.auditLog.create({
    data: {
      actorKeyId: actor?.keyId ?? null,
      actorKind: actor?.kind ?? null,
      actorLabel: actor?.label ?? SYSTEM_ACTOR,
      creatorId: entry.creatorId ?? null,
      operation: entry.operation,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
      details: entry.details,
    },
  });
}
