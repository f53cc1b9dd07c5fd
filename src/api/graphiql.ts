import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import type { GraphiQLOptions, Plugin } from "graphql-yoga";
import Negotiator from "negotiator";

/** GraphiQL's first query for a newcomer: where the key goes, and what to try first. */
export const GRAPHIQL_WELCOME = `# Closer's GraphQL API. Requests need an API key: write it in the Headers tab below,
#   {"authorization": "Bearer clsr_..."}
# (npm run create-admin-key prints an admin key), then run this query with the ▶ button.
# The Docs (the book icon) list every type and field.
query WhoAmI {
  viewer {
    kind
    creator {
      name
    }
  }
}

# Decisions as agents make them, live (over SSE, with the same header): uncomment and run.
# subscription Decisions {
#   agentDecisions {
#     acted
#     reason
#     event { type }
#     actions { channel sendAt }
#   }
# }
`;

type Encoding = "br" | "gzip";

let rendered: {
  key: string;
  page: string;
  etag: string;
  /** The page compressed, made at the first request that accepts each encoding, off the event loop. */
  compressed: Partial<Record<Encoding, Promise<Buffer>>>;
} | null = null;

/**
 * The module is imported at the first request for the page, not when the API starts: its
 * inlined scripts and styles stay in the heap once loaded (its source, 17 MB as V8 holds it, and
 * the page's strings, 14 MB: 31 MB of a heap snapshot), which every API process would otherwise
 * carry whether anyone opens GraphiQL or not.
 */
async function render(options?: GraphiQLOptions) {
  const key = JSON.stringify(options ?? {});
  if (rendered?.key !== key) {
    const { renderGraphiQL } = await import("@graphql-yoga/render-graphiql");
    const page = renderGraphiQL(options);
    const etag = `"${createHash("sha256").update(page).digest("base64url").slice(0, 27)}"`;
    rendered = { key, page, etag, compressed: {} };
  }
  return rendered;
}

/**
 * Brotli at quality 5 (9.0 MB to 1.9 MB in about 0.4 s, once) or gzip (2.4 MB): compressing
 * harder would take seconds for little gain. Both run in libuv's thread pool.
 */
const COMPRESS: Record<Encoding, (page: string) => Promise<Buffer>> = {
  br: (page) => promisify(brotliCompress)(page, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }),
  gzip: (page) => promisify(gzip)(page),
};

/**
 * The encoding to send the page in: Brotli or gzip, whichever the request's Accept-Encoding ranks
 * highest (RFC 9110 §12.5.3; q=0 refuses one, and no header asks for none); null for the page as
 * it is. Negotiated by `negotiator`, the library Express and Koa use.
 */
function acceptedEncoding(request: Request): Encoding | null {
  const negotiator = new Negotiator({
    headers: { "accept-encoding": request.headers.get("accept-encoding") ?? undefined },
  });
  const [best] = negotiator.encodings(["br", "gzip"]) as Encoding[];
  return best ?? null;
}

/**
 * GraphiQL's page from @graphql-yoga/render-graphiql: React, the editor and its workers inlined
 * (about 9 MB), so it needs no network beyond this server. Rendered once per options and kept:
 * building the page per request would cost more than answering most queries.
 */
export async function graphiqlPage(options?: GraphiQLOptions): Promise<string> {
  return (await render(options)).page;
}

/**
 * The page goes out with an ETag and `Cache-Control: no-cache` (RFC 9111 §5.2.2.4: reuse after
 * revalidation), and a browser that already has it gets 304 Not Modified instead of 9 MB again
 * (RFC 9110 §13.1.2, If-None-Match). A new version of the package is a new ETag. A browser that
 * accepts Brotli or gzip gets the page compressed (1.9 or 2.4 MB), with `Vary: Accept-Encoding`.
 * No site may frame it (CSP frame-ancestors, X-Frame-Options for older browsers).
 */
export function graphiqlCaching(graphqlPath = "/graphql"): Plugin {
  // GraphiQL's own page only: another HTML page (the ops console at /ops) keeps its body and CSP.
  const isPage = (request: Request) =>
    request.method === "GET" &&
    new URL(request.url).pathname === graphqlPath &&
    (request.headers.get("accept") ?? "").includes("text/html");
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
      response.headers.set("vary", "Accept-Encoding");
      // A page that runs requests with the key in it: never inside another site's frame (clickjacking).
      response.headers.set("content-security-policy", "frame-ancestors 'none'");
      response.headers.set("x-frame-options", "DENY");
      const encoding = acceptedEncoding(request);
      if (!encoding) return;
      const headers = new fetchAPI.Headers(response.headers);
      const page = rendered;
      page.compressed[encoding] ??= COMPRESS[encoding](page.page);
      return page.compressed[encoding].then((body) => {
        headers.set("content-encoding", encoding);
        headers.set("content-length", String(body.length));
        setResponse(new fetchAPI.Response(new Uint8Array(body), { status: response.status, headers }));
      });
    },
  };
}
