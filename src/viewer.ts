import type { ApiKeyKind } from "./generated/prisma/enums.js";

/** Who is calling: the API key behind the request. */
export type Viewer = {
  readonly keyId: string;
  readonly kind: ApiKeyKind;
  /** Null for admin keys. */
  readonly creatorId: string | null;
  readonly label: string;
};

/** The actor recorded in audit rows when no API key is involved (worker, scripts). */
export const SYSTEM_ACTOR = "system";
