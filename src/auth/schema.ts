import { db } from "../db/client.js";
import { NotFoundError } from "../errors.js";
import type { ApiKey } from "../generated/prisma/client.js";
import { ApiKeyKind } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { mutationErrors } from "../graphql/error-types.js";
import { forbidden } from "../graphql/errors.js";
import { ownRowById } from "../graphql/tenancy.js";
import type { Viewer } from "../viewer.js";
import { createApiKey, revokeApiKey } from "./api-keys.js";

export const ApiKeyKindEnum = builder.enumType(ApiKeyKind, {
  name: "ApiKeyKind",
  description:
    "ADMIN: platform operator. CREATOR: everything of one creator. INGEST: publishable, event ingestion only.",
});

export const ApiKeyNode = builder.prismaNode("ApiKey", {
  id: { field: "id" },
  // Another creator's id loads as missing: null, as an unknown id.
  findUnique: (id, ctx) => ownRowById(id, ctx),
  nullable: true,
  authScopes: (key) => (key.creatorId ? { creator: key.creatorId } : { admin: true }),
  fields: (t) => ({
    kind: t.expose("kind", { type: ApiKeyKindEnum }),
    name: t.exposeString("name"),
    prefix: t.exposeString("prefix", { description: "The key's first characters, to tell keys apart." }),
    creator: t.relation("creator", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
  }),
});

const ViewerRef = builder.objectRef<Viewer>("Viewer").implement({
  description: "The API key making this request.",
  fields: (t) => ({
    kind: t.field({ type: ApiKeyKindEnum, resolve: (v) => v.kind }),
    apiKey: t.prismaField({
      type: "ApiKey",
      resolve: (query, v, _args, ctx) => ctx.reads.db.apiKey.findUniqueOrThrow({ ...query, where: { id: v.keyId } }),
    }),
    creator: t.prismaField({
      type: "Creator",
      nullable: true,
      description: "The creator this key belongs to; null for admin keys.",
      resolve: (query, v, _args, ctx) =>
        v.creatorId ? ctx.reads.db.creator.findUnique({ ...query, where: { id: v.creatorId } }) : null,
    }),
  }),
});

builder.queryField("viewer", (t) =>
  t.field({
    type: ViewerRef,
    nullable: true,
    description: "The caller's key; null without an Authorization header.",
    resolve: (_root, _args, ctx) => ctx.viewer,
  }),
);

const CreateApiKeyInput = builder.inputType("CreateApiKeyInput", {
  fields: (t) => ({
    kind: t.field({ type: ApiKeyKindEnum, required: true }),
    creatorId: t.globalID({ description: "Required for CREATOR and INGEST keys." }),
    name: t.string({ required: true }),
  }),
});

const CreatedApiKey = builder.objectRef<{ apiKey: ApiKey; secret: string }>("CreatedApiKey").implement({
  description: "The secret is shown here once and never again: only its hash is stored.",
  fields: (t) => ({
    secret: t.exposeString("secret"),
    apiKey: t.field({ type: ApiKeyNode, resolve: (created) => created.apiKey }),
  }),
});

builder.mutationField("createApiKey", (t) =>
  t.field({
    type: CreatedApiKey,
    errors: mutationErrors,
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    authScopes: { manager: true },
    resolve: async (_root, { input }, ctx) => {
      const creatorId = input.creatorId?.id ?? null;
      // Only operators mint admin keys; a creator key mints keys for its own creator only.
      const allowed = ctx.viewer?.kind === "ADMIN" || (input.kind !== "ADMIN" && creatorId === ctx.viewer?.creatorId);
      if (!allowed) throw forbidden("This API key may not create that kind of key");
      return createApiKey({ kind: input.kind, creatorId, name: input.name }, ctx.viewer);
    },
  }),
);

builder.mutationField("revokeApiKey", (t) =>
  t.field({
    type: ApiKeyNode,
    errors: mutationErrors,
    args: { id: t.arg.globalID({ required: true, for: ApiKeyNode }) },
    authScopes: { manager: true },
    resolve: async (_root, { id }, ctx) => {
      const key = await db.apiKey.findUnique({ where: { id: id.id }, select: { creatorId: true } });
      const allowed = ctx.viewer?.kind === "ADMIN" || (key !== null && key.creatorId === ctx.viewer?.creatorId);
      // Another creator's key answers as an unknown one.
      if (key && !allowed) throw new NotFoundError("ApiKey", id.id);
      return revokeApiKey(id.id, ctx.viewer);
    },
  }),
);
