import type { Viewer } from "../viewer.js";

function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}

// Which web pages may use which keys. A browser names the page a request comes from in its
// Origin header (Fetch standard); server-side clients send none. Ingest keys are publishable and
// made for landing pages anywhere, so any origin may use them; creator and admin keys reach
// everything of a creator or of the platform, so a page may use them only from an origin the
// operator listed (CORS_ALLOWED_ORIGINS), or from the API's own (GraphiQL).

/**
 * Why `viewer`'s key may not be used from `origin`, or null when it may. `origin` is the request's
 * Origin header (null without one), `ownHost` the request's Host header (a page served by the API
 * itself, over http or behind a TLS proxy), `allowed` the configured origins.
 */
export function refusedOrigin(
  viewer: Viewer | null,
  origin: string | null,
  ownHost: string | null,
  allowed: readonly string[],
): string | null {
  if (!viewer || viewer.kind === "INGEST" || origin === null) return null;
  if (allowed.includes(origin.toLowerCase()) || (ownHost !== null && hostOf(origin) === ownHost.toLowerCase())) {
    return null;
  }
  return `A ${viewer.kind.toLowerCase()} key is accepted only from the origins in CORS_ALLOWED_ORIGINS, not from ${origin.slice(0, 200)}`;
}
