import { lexicographicSortSchema, printSchema } from "graphql";
import { builder } from "./builder.js";
import "./error-types.js";
import "../auth/schema.js";
import "../creators/schema.js";
import "../profiles/schema.js";
import "../consumers/schema.js";
import "../events/schema.js";
import "../agents/schema-types.js";
import "../agents/schema.js";
import "../agents/subscriptions.js";
import "../actions/schema-types.js";
import "../actions/schema.js";
import "../actions/subscriptions.js";
import "../audit/schema.js";

export const schema = builder.toSchema();

/** The SDL checked in as schema.graphql: sorted, so a diff shows only real changes. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
