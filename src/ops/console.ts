import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "graphql-yoga";

// The ops console: a static page over the public GraphQL API, served by the API itself so it
// needs no CDN and no build step. The page's modules are plain ES modules in ./page; the
// subscription client is graphql-ws's browser build, taken from the installed package: one
// WebSocket per tab carries every live feed (a browser's WebSockets do not count against its six
// HTTP/1.1 connections per host, which a tab's SSE streams would use up).

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "page");
const GRAPHQL_WS_UMD = join(
  dirname(createRequire(import.meta.url).resolve("graphql-ws/package.json")),
  "umd",
  "graphql-ws.min.js",
);

/**
 * What the page may load and where it may connect: its own origin only ('self' covers the page's
 * own host over ws: and wss: too, CSP Level 3), no inline script or style
 * (data rendered into it is attacker-controlled text), no framing, no plugins, no form posts.
 */
export const OPS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
} as const;

/**
 * Every file the console serves, by the path under /ops/ that names it. A fixed table, not a
 * directory lookup: a path that is not a key (`..`, an encoded slash, another file) is a 404.
 */
const ASSETS: Record<string, { file: string; type: string }> = {
  "": { file: join(PAGE_DIR, "index.html"), type: TYPES.html },
  "ops.css": { file: join(PAGE_DIR, "ops.css"), type: TYPES.css },
  "ops.js": { file: join(PAGE_DIR, "ops.js"), type: TYPES.js },
  "api.js": { file: join(PAGE_DIR, "api.js"), type: TYPES.js },
  "dom.js": { file: join(PAGE_DIR, "dom.js"), type: TYPES.js },
  "queries.js": { file: join(PAGE_DIR, "queries.js"), type: TYPES.js },
  "graphql-ws.js": { file: GRAPHQL_WS_UMD, type: TYPES.js },
};

/**
 * Whether an If-None-Match header names this ETag: `*`, or any entity-tag in its list compared
 * weakly (RFC 9110 §13.1.2: `W/"x"` matches `"x"`), as a cache revalidating may send either.
 */
export function noneMatch(header: string | null, etag: string): boolean {
  if (header === null) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, "");
  return header.split(",").some((tag) => tag.trim() === "*" || opaque(tag) === opaque(etag));
}

type Loaded = { body: Uint8Array<ArrayBuffer>; type: string; etag: string };
let loaded: Map<string, Loaded> | null = null;

/**
 * Every asset, read once and kept with its ETag (the files change only with a new release). Read
 * all together when the console is set up, at the process's start: a file read at its first
 * request could meet a build rewriting dist/ beside the running process.
 */
function loadAll(): Map<string, Loaded> {
  loaded ??= new Map(
    Object.entries(ASSETS).map(([name, asset]) => {
      const body = readFileSync(asset.file);
      const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
      return [name, { body: new Uint8Array(body), type: asset.type, etag }];
    }),
  );
  return loaded;
}

/** An asset by name, or null. */
function load(name: string): Loaded | null {
  return loadAll().get(name) ?? null;
}

/**
 * Serves the console at /ops and its files at /ops/<name>, GET and HEAD only, each with an ETag and
 * `Cache-Control: no-cache` (revalidated, answered 304 when unchanged, as GraphiQL's page), the
 * page with its Content-Security-Policy. Anything else under /ops is a 404.
 */
export function opsConsole(): Plugin {
  loadAll();
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      const { pathname } = url;
      if (pathname !== "/ops" && !pathname.startsWith("/ops/")) return;
      const common = { "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };
      if (request.method !== "GET" && request.method !== "HEAD") {
        endResponse(
          new fetchAPI.Response("Method Not Allowed", { status: 405, headers: { ...common, allow: "GET, HEAD" } }),
        );
        return;
      }
      const asset = load(pathname === "/ops" ? "" : pathname.slice("/ops/".length));
      if (!asset) {
        endResponse(
          new fetchAPI.Response("Not Found", {
            status: 404,
            headers: { ...common, "content-type": "text/plain; charset=utf-8" },
          }),
        );
        return;
      }
      const headers: Record<string, string> = {
        ...common,
        "content-type": asset.type,
        etag: asset.etag,
        "cache-control": "no-cache",
        "content-security-policy": OPS_CONTENT_SECURITY_POLICY,
      };
      if (noneMatch(request.headers.get("if-none-match"), asset.etag)) {
        endResponse(new fetchAPI.Response(null, { status: 304, headers }));
        return;
      }
      endResponse(new fetchAPI.Response(request.method === "HEAD" ? null : asset.body, { headers }));
    },
  };
}
