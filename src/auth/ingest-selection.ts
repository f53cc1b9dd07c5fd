import { type DocumentNode, type GraphQLSchema, getNamedType, Kind, TypeInfo, visit, visitWithTypeInfo } from "graphql";

// What a publishable ingest key may select. It sits in web pages, where anyone can read it, so
// the answer carries ids, the duplicate flag and what the caller sent, never what Closer knows
// about a person (their context, contact details, other events). Checked on the whole document
// before anything runs: a request that will be refused writes nothing.

const INGEST_SELECTABLE: Record<string, ReadonlySet<string>> = {
  Query: new Set(["knownEventTypes", "viewer"]),
  Mutation: new Set(["ingestEvent", "ingestEvents"]),
  Viewer: new Set(["kind"]),
  KnownEventType: new Set(["type", "description"]),
  IngestedEvent: new Set(["duplicate", "event"]),
  IngestedEvents: new Set(["results"]),
  Event: new Set(["id", "type", "payload", "occurredAt", "receivedAt", "idempotencyKey"]),
  Error: new Set(["code", "message"]),
  ValidationError: new Set(["code", "message", "issues"]),
  FieldIssue: new Set(["path", "message"]),
  NotFoundError: new Set(["code", "message", "resource"]),
  ConflictError: new Set(["code", "message"]),
};

/**
 * The first field of `document` an ingest key may not select, as "Type.field", or null when the
 * whole selection is allowed. `__typename` is allowed everywhere; introspection is not.
 */
export function forbiddenForIngestKey(schema: GraphQLSchema, document: DocumentNode): string | null {
  // A document is immutable, and Yoga's parser cache hands the same one out for the same query:
  // its verdict is worked out once, not at every ingestion.
  const known = verdicts.get(document);
  if (known !== undefined) return known;
  const refused = firstForbidden(schema, document);
  verdicts.set(document, refused);
  return refused;
}

/** Verdicts of documents seen, while they are (a WeakMap: a document no cache holds is let go). */
const verdicts = new WeakMap<DocumentNode, string | null>();

function firstForbidden(schema: GraphQLSchema, document: DocumentNode): string | null {
  const typeInfo = new TypeInfo(schema);
  let refused: string | null = null;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      [Kind.FIELD](node) {
        if (refused || node.name.value === "__typename") return;
        const parent = typeInfo.getParentType();
        const type = parent ? getNamedType(parent).name : "?";
        if (!INGEST_SELECTABLE[type]?.has(node.name.value)) refused = `${type}.${node.name.value}`;
      },
    }),
  );
  return refused;
}
