import type { Reads } from "../db/reads.js";
import type { Viewer } from "../viewer.js";

/** Built once per request (or per subscription connection); read-only afterwards but for `reads` (see there). */
export type RequestContext = {
  readonly viewer: Viewer | null;
  readonly requestId: string;
  /** Events and consumers this request ingested: an ingest key may read those in its answer. */
  readonly ingested: Set<string>;
  readonly ingestedConsumers: Set<string>;
  /**
   * What resolvers read through (Pothos's own loads too): the primary's, unless read routing
   * (api/read-routing.ts) chose the read replica's for a query operation before it ran.
   */
  readonly reads: Reads;
};
