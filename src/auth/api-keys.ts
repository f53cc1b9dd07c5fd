import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { recordAudit } from "../audit/audit-log.js";
import { config } from "../config.js";
import { creatorExists } from "../creators/creator-store.js";
import { pool } from "../db/client.js";
import { inTransaction } from "../db/transaction.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { ApiKeyKind } from "../generated/prisma/enums.js";
import { logger } from "../logger.js";
import { isOutage } from "../outages.js";
import { publishBestEffort } from "../pubsub.js";
import type { Viewer } from "../viewer.js";
import { findApiKey, findKeyByHash, insertApiKey, markApiKeyRevoked, markApiKeyUsed } from "./api-key-store.js";
import { endStreamsOfKey } from "./live-streams.js";

// Keys carry a readable kind marker so a leaked key is recognisable (and an ingest key is
// visibly the publishable one), then 32 random bytes.
const KIND_MARKER: Record<ApiKeyKind, string> = { ADMIN: "adm", CREATOR: "crt", INGEST: "pub" };
const KEY_PATTERN = /^clsr_(adm|crt|pub)_[A-Za-z0-9_-]{43}$/;
/** Writing lastUsedAt on every request would cost a write per event; once a minute is enough to audit use. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function hashApiKey(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

function generateSecret(kind: ApiKeyKind): string {
  return `clsr_${KIND_MARKER[kind]}_${randomBytes(32).toString("base64url")}`;
}

export class AuthenticationError extends Error {}

/**
 * Valid keys seen recently, by hash: a key is looked up once per API_KEY_CACHE_MS, not on every
 * request. A revocation removes it at once here and, through Redis pub/sub, in every other API
 * process (forgetRevokedKey); if that message is lost the entry still expires.
 */
const verifiedKeys = new Map<string, { viewer: Viewer; until: number }>();
const lookUps = new Map<string, Promise<Viewer>>();

/** Forgets a revoked key in this process: no cached verification, no live stream (see live-streams). */
export function forgetRevokedKey(revoked: RevokedKey): void {
  verifiedKeys.delete(revoked.hash);
  endStreamsOfKey(revoked.keyId);
}

/** What a revocation broadcast carries. */
export type RevokedKey = { hash: string; keyId: string };

/** The channel on which revocations reach every API process. */
export function revocationChannel(): string {
  return `${config().REDIS_PREFIX}:api-keys:revoked`;
}

/** Resolves an Authorization header to the key's viewer; null when no header is sent. */
export async function authenticate(header: string | null): Promise<Viewer | null> {
  if (header === null || header === "") return null;
  const match = /^Bearer (\S+)$/.exec(header);
  if (!match) throw new AuthenticationError("Malformed Authorization header: expected 'Bearer <api key>'");
  const secret = match[1];
  if (!KEY_PATTERN.test(secret)) throw new AuthenticationError("Malformed API key");
  const hash = hashApiKey(secret);
  const cached = verifiedKeys.get(hash);
  if (cached && cached.until > Date.now()) return cached.viewer;
  // One look-up per key at a time: when an entry expires, its concurrent requests share it.
  let lookup = lookUps.get(hash);
  if (!lookup) {
    lookup = lookUpKey(hash).finally(() => lookUps.delete(hash));
    lookUps.set(hash, lookup);
  }
  let viewer: Viewer;
  try {
    viewer = await lookup;
  } catch (error) {
    // PostgreSQL away: a key verified before (and not revoked since, or it would have been
    // forgotten) is still trusted, so the request fails, if it must, on its own work only.
    if (cached && isOutage(error)) return cached.viewer;
    throw error;
  }
  const ttl = config().API_KEY_CACHE_MS;
  if (ttl > 0) verifiedKeys.set(hash, { viewer, until: Date.now() + ttl });
  return viewer;
}

async function lookUpKey(hash: string): Promise<Viewer> {
  const key = await findKeyByHash(hash);
  if (!key) throw new AuthenticationError("Unknown API key");
  if (key.revokedAt) throw new AuthenticationError("This API key has been revoked");
  if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    // Not awaited: bookkeeping must not slow the request down.
    markApiKeyUsed(key.id).catch(() => {});
  }
  return { keyId: key.id, kind: key.kind, creatorId: key.creatorId, label: `${key.kind.toLowerCase()}:${key.prefix}` };
}

const createApiKeyInput = z
  .object({
    kind: z.enum(["ADMIN", "CREATOR", "INGEST"]),
    creatorId: z.uuid().nullish(),
    name: z.string().trim().min(1).max(100),
  })
  .refine((k) => (k.kind === "ADMIN") === !k.creatorId, {
    message: "admin keys have no creator; creator and ingest keys need one",
    path: ["creatorId"],
  });

export type CreateApiKeyInput = z.input<typeof createApiKeyInput>;

/** Creates a key and returns its secret, which is never stored and cannot be shown again. */
export async function createApiKey(input: CreateApiKeyInput, actor: Viewer | null) {
  const parsed = createApiKeyInput.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(parsed.error);
  const { kind, creatorId, name } = parsed.data;
  if (creatorId && !(await creatorExists(pool, creatorId))) {
    throw new NotFoundError("Creator", creatorId);
  }
  const secret = generateSecret(kind);
  const apiKey = await inTransaction(async (tx) => {
    const row = await insertApiKey(tx, {
      kind,
      creatorId: creatorId ?? null,
      name,
      prefix: secret.slice(0, 13),
      hash: hashApiKey(secret),
    });
    await recordAudit(tx, actor, {
      operation: "apiKey.create",
      creatorId: row.creatorId,
      targetType: "ApiKey",
      targetId: row.id,
      details: { kind, name },
    });
    return row;
  });
  return { apiKey, secret };
}

/**
 * Revokes a key (a revoked one is answered as it is), audited, then makes every API process
 * forget it. Raises NotFoundError.
 */
export async function revokeApiKey(id: string, actor: Viewer | null) {
  const revoked = await inTransaction(async (tx) => {
    const key = await findApiKey(tx, id);
    if (!key) throw new NotFoundError("ApiKey", id);
    if (key.revokedAt) return key;
    const row = await markApiKeyRevoked(tx, id);
    await recordAudit(tx, actor, {
      operation: "apiKey.revoke",
      creatorId: key.creatorId,
      targetType: "ApiKey",
      targetId: id,
    });
    return row;
  });
  // After commit, so no request can cache the key again from the row before it changed.
  const message: RevokedKey = { hash: revoked.hash, keyId: revoked.id };
  forgetRevokedKey(message);
  if (!(await publishBestEffort(revocationChannel(), message))) {
    logger.warn("revocation broadcast failed; other instances forget the key on expiry");
  }
  return revoked;
}
