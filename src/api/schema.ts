import { getNamedType, isObjectType, lexicographicSortSchema, printSchema } from "graphql";
import { builder } from "../graphql/builder.js";
import "../graphql/error-types.js";
import "../auth/schema.js";
import "../creators/schema.js";
import "../profiles/schema.js";
import "../onboarding/schema.js";
import "../onboarding/subscriptions.js";
import "../consumers/schema.js";
import "../events/schema.js";
import "../agents/schema-types.js";
import "../agents/schema.js";
import "../agents/subscriptions.js";
import "../delivery/schema-types.js";
import "../delivery/schema.js";
import "../delivery/subscriptions.js";
import "../audit/schema.js";
import "../whatsapp/schema.js";
import "../whatsapp/template-schema.js";
import "../conversations/schema.js";
import "../timeline/schema.js";
import "../analytics/schema.js";

export const schema = builder.toSchema();

// A connection costs what it returns: its edges count `first` (or `last`, default 20) times, not
// the flat 10 of a plain list, so `first: 100` cannot slip under the complexity limit.
for (const type of Object.values(schema.getTypeMap())) {
  if (!isObjectType(type) || type.name.startsWith("__")) continue;
  for (const field of Object.values(type.getFields())) {
    // Fields carry the builder's default (a number) unless they set their own (object or function).
    if (!getNamedType(field.type).name.endsWith("Connection") || typeof field.extensions.complexity !== "number")
      continue;
    (field.extensions as Record<string, unknown>).complexity = (args: {
      first?: number | null;
      last?: number | null;
    }) => ({
      field: 1,
      multiplier: Math.max(1, (args.first ?? args.last ?? 20) / 10),
    });
  }
}

/** The SDL checked in as schema.graphql: sorted, so a diff shows only real changes. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
