import { GraphQLError } from "graphql";
import { type DomainError, ValidationError } from "../errors.js";
import { OUTAGE_RETRY_AFTER_SECONDS } from "../outages.js";

// Errors about the request itself (who sends it, how big it is) are GraphQL errors with a code;
// failures of a mutation's input are typed results (see error-types.ts).

export function unauthenticated(message = "Authentication required: send 'Authorization: Bearer <api key>'") {
  return new GraphQLError(message, { extensions: { code: "UNAUTHENTICATED", http: { status: 401 } } });
}

export function forbidden(message = "This API key may not access this resource") {
  return new GraphQLError(message, { extensions: { code: "FORBIDDEN" } });
}

export function rateLimited(retryAfterSeconds: number) {
  return new GraphQLError(`Rate limit exceeded: retry in ${retryAfterSeconds}s`, {
    extensions: {
      code: "RATE_LIMITED",
      retryAfterSeconds,
      http: { status: 429, headers: { "retry-after": String(retryAfterSeconds) } },
    },
  });
}

/**
 * PostgreSQL or Redis is unavailable for the moment: nothing was changed that the answer does not
 * report, and the same request (with the same idempotency key) may be sent again after
 * `retryAfterSeconds`. HTTP 503 with Retry-After (RFC 9110, 15.6.4).
 */
export function serviceUnavailable(retryAfterSeconds = OUTAGE_RETRY_AFTER_SECONDS) {
  return new GraphQLError(`Service temporarily unavailable: retry in ${retryAfterSeconds}s`, {
    extensions: {
      code: "SERVICE_UNAVAILABLE",
      retryAfterSeconds,
      http: { status: 503, headers: { "retry-after": String(retryAfterSeconds) } },
    },
  });
}

/** The error with `code` in its extensions, unless it has one already. */
export function withCode(error: GraphQLError, code: string): GraphQLError {
  if (error.extensions?.code) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, code },
  });
}

export class GraphQLLimitError extends GraphQLError {
  constructor(message: string, limit: string) {
    super(message, { extensions: { code: "QUERY_LIMIT_EXCEEDED", limit } });
  }
}

/** A domain error that escapes a field without typed errors keeps its code instead of being masked. */
export function domainErrorToGraphQL(error: DomainError): GraphQLError {
  return new GraphQLError(error.message, {
    extensions: {
      code: error.code,
      ...(error instanceof ValidationError ? { issues: error.issues } : {}),
    },
  });
}

export function invalidId(globalID: string) {
  return new GraphQLError(`Invalid ID: ${globalID.slice(0, 100)}`, { extensions: { code: "BAD_USER_INPUT" } });
}
