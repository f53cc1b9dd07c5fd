import pg from "pg";

// @prisma/adapter-pg 6.19 cannot deserialize the catalog column types `"char"` (OID 18) and
// `name` (OID 19) that the schema engine reads during migrations (prisma/orm#27403).
// Reporting them as text (OID 25) is exact: both arrive from the server as strings.
const CATALOG_TEXT_TYPES = new Set([18, 19]);
const TEXT_OID = 25;

type QueryResultLike = { fields?: { dataTypeID: number }[] };

function asText<T>(result: T): T {
  for (const r of Array.isArray(result) ? result : [result]) {
    for (const field of (r as QueryResultLike)?.fields ?? []) {
      if (CATALOG_TEXT_TYPES.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
    }
  }
  return result;
}

class CatalogSafeClient extends pg.Client {
  // pg.Pool#query passes a callback; the adapter awaits a promise: both forms are handled.
  override query(...args: unknown[]): never {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === "function") {
      args[last] = (err: unknown, result: unknown) => callback(err, err ? result : asText(result));
      return (super.query as (...a: unknown[]) => never)(...args);
    }
    const returned = (super.query as (...a: unknown[]) => unknown)(...args);
    if (returned && typeof (returned as Promise<unknown>).then === "function") {
      return (returned as Promise<unknown>).then(asText) as never;
    }
    return returned as never;
  }
}

export function catalogSafePool(connectionString: string): pg.Pool {
  return new pg.Pool({ connectionString, Client: CatalogSafeClient, max: 4 });
}
