import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import type { GraphiQLOptions } from "graphql-yoga";

let rendered: { key: string; page: string } | null = null;

/**
 * GraphiQL's page from @graphql-yoga/render-graphiql: React, the editor and its workers inlined
 * (about 9 MB), so it needs no network beyond this server. Rendered once per options and kept:
 * building the page per request would cost more than answering most queries.
 */
export function graphiqlPage(options?: GraphiQLOptions): string {
  const key = JSON.stringify(options ?? {});
  if (rendered?.key !== key) rendered = { key, page: renderGraphiQL(options) };
  return rendered.page;
}
