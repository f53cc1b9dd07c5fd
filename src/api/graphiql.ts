import { createHash } from "node:crypto";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import type { GraphiQLOptions, Plugin } from "graphql-yoga";

let rendered: { key: string; page: string; etag: string } | null = null;

function render(options?: GraphiQLOptions) {
  const key = JSON.stringify(options ?? {});
  if (rendered?.key !== key) {
    const page = renderGraphiQL(options);
    rendered = { key, page, etag: `"${createHash("sha256").update(page).digest("base64url").slice(0, 27)}"` };
  }
  return rendered;
}

/**
 * GraphiQL's page from @graphql-yoga/render-graphiql: React, the editor and its workers inlined
 * (about 9 MB), so it needs no network beyond this server. Rendered once per options and kept:
 * building the page per request would cost more than answering most queries.
 */
export function graphiqlPage(options?: GraphiQLOptions): string {
  return render(options).page;
}

/**
 * The page goes out with an ETag and `Cache-Control: no-cache` (RFC 9111 §5.2.2.4: reuse after
 * revalidation), and a browser that already has it gets 304 Not Modified instead of 9 MB again
 * (RFC 9110 §13.1.2, If-None-Match). A new version of the package is a new ETag.
 */
export function graphiqlCaching(): Plugin {
  const isPage = (request: Request) =>
    request.method === "GET" && (request.headers.get("accept") ?? "").includes("text/html");
  // Yoga answers the page in its own onRequest, before any plugin's: the 304 replaces its answer.
  return {
    onResponse({ request, response, setResponse, fetchAPI }) {
      if (!isPage(request) || !rendered || !(response.headers.get("content-type") ?? "").includes("text/html")) return;
      const { etag } = rendered;
      const given = request.headers.get("if-none-match");
      if (given?.split(/\s*,\s*/).includes(etag)) {
        setResponse(new fetchAPI.Response(null, { status: 304, headers: { etag, "cache-control": "no-cache" } }));
        return;
      }
      response.headers.set("etag", etag);
      response.headers.set("cache-control", "no-cache");
    },
  };
}
