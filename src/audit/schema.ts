import { ApiKeyKindEnum } from "../auth/schema.js";
import { builder } from "../graphql/builder.js";
import { ownRowById } from "../graphql/tenancy.js";

const AuditLogNode = builder.prismaNode("AuditLog", {
  id: { field: "id" },
  // Another creator's id loads as missing: null, as an unknown id.
  findUnique: (id, ctx) => ownRowById(id, ctx),
  nullable: true,
  authScopes: (row) => (row.creatorId ? { creator: row.creatorId } : { admin: true }),
  description: "A state-changing operation: who, what, when.",
  fields: (t) => ({
    actorKind: t.expose("actorKind", { type: ApiKeyKindEnum, nullable: true }),
    actorLabel: t.exposeString("actorLabel", { description: 'The key ("kind:prefix") or "system".' }),
    operation: t.exposeString("operation"),
    targetType: t.exposeString("targetType", { nullable: true }),
    targetId: t.exposeString("targetId", { nullable: true }),
    details: t.expose("details", { type: "JSON", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.queryField("auditLog", (t) =>
  t.prismaConnection({
    type: "AuditLog",
    cursor: "id",
    description: "Newest first. Admin keys see every row; creator keys their creator's.",
    authScopes: { manager: true },
    args: { operation: t.arg.string() },
    resolve: (query, _root, { operation }, ctx) =>
      ctx.reads.db.auditLog.findMany({
        ...query,
        where: {
          ...(ctx.viewer?.kind === "ADMIN" ? {} : { creatorId: ctx.viewer?.creatorId }),
          ...(operation ? { operation } : {}),
        },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      }),
  }),
);

export { AuditLogNode };
