import type { Viewer } from "../viewer.js";

/** Built once per request (or per subscription connection); read-only afterwards. */
export type RequestContext = {
  readonly viewer: Viewer | null;
  readonly requestId: string;
  /** Events and consumers this request ingested: an ingest key may read those in its answer. */
  readonly ingested: Set<string>;
  readonly ingestedConsumers: Set<string>;
};
