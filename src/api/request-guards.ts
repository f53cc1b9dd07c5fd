import { type DocumentNode, type ExecutionArgs, GraphQLError, Kind, visit } from "graphql";
import type { Plugin } from "graphql-yoga";
import { isStorableText } from "../db/storable-text.js";

// Requests refused before they reach a resolver, each with a GraphQL-shaped body whose error
// carries `extensions.code`, whatever the HTTP status: clients handle one shape of failure.

/** A GraphQL-shaped error answer, as a body string (also written raw on a socket by the server). */
export function errorBody(message: string, code: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}

function errorResponse(fetchAPI: { Response: typeof Response }, status: number, message: string, code: string) {
  return new fetchAPI.Response(errorBody(message, code), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/**
 * Media types of a POST body Closer reads (of graphql-yoga's parsers). Not
 * application/x-www-form-urlencoded: nothing needs it, a page may send it across origins without
 * a preflight, and Yoga fails on malformed JSON in its fields.
 */
const READABLE_BODIES = ["application/json", "application/graphql+json", "application/graphql", "multipart/form-data"];
/** Media types Yoga answers in; an Accept that allows none of them gets 406. */
const ANSWERS = ["application/graphql-response+json", "application/json", "text/event-stream", "multipart/mixed"];

function mediaType(header: string): string {
  return header.split(";")[0].trim().toLowerCase();
}

function acceptsAny(accept: string): boolean {
  return accept
    .split(",")
    .map(mediaType)
    .some((type) => type === "*/*" || type === "application/*" || type === "text/*" || ANSWERS.includes(type));
}

/**
 * The request's framing, checked before Yoga reads it: the body limit (HTTP 413; a body without
 * a length is refused, 411, since it could not be limited before reading), a content type Yoga
 * reads (415), an Accept it can answer (406), and JSON in GET's `variables` and `extensions` (400).
 */
export function requestFraming(maxBytes: number, graphqlPath: string): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method === "POST") {
        const length = request.headers.get("content-length");
        if (length === null) {
          return endResponse(
            errorResponse(fetchAPI, 411, "Content-Length required: send the body with its length", "LENGTH_REQUIRED"),
          );
        }
        if (Number(length) > maxBytes) {
          return endResponse(
            errorResponse(fetchAPI, 413, `Request body exceeds ${maxBytes} bytes`, "PAYLOAD_TOO_LARGE"),
          );
        }
      }
      if (url.pathname !== graphqlPath) return;
      const accept = request.headers.get("accept");
      if (accept && !acceptsAny(accept)) {
        return endResponse(
          errorResponse(fetchAPI, 406, `Cannot answer in ${accept}: accept application/json`, "NOT_ACCEPTABLE"),
        );
      }
      if (request.method === "GET") {
        for (const name of ["variables", "extensions"]) {
          const value = url.searchParams.get(name);
          if (value === null) continue;
          try {
            JSON.parse(value);
          } catch {
            return endResponse(errorResponse(fetchAPI, 400, `The ${name} parameter is not valid JSON`, "BAD_REQUEST"));
          }
        }
        return;
      }
      if (request.method !== "POST") return;
      const type = request.headers.get("content-type");
      if (!type || !READABLE_BODIES.includes(mediaType(type))) {
        return endResponse(
          errorResponse(
            fetchAPI,
            415,
            `Unsupported content type ${type ? mediaType(type) : "(none)"}: send application/json`,
            "UNSUPPORTED_MEDIA_TYPE",
          ),
        );
      }
    },
  };
}

/**
 * Where a string PostgreSQL cannot store (a NUL character) or that is not valid Unicode (an
 * unpaired surrogate) stands in a value: its dotted path, or null. Object keys count too.
 */
export function unstorableTextAt(value: unknown, path: string): string | null {
  if (typeof value === "string") return isStorableText(value) ? null : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableTextAt(value[i], `${path}.${i}`);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      const found = unstorableTextAt(key, `${path}.${key}`) ?? unstorableTextAt(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Verdicts of unstorableLiteralAt by document: Yoga's parser cache hands the same DocumentNode
 * out again for the same query text, so a document is walked once, not on every request.
 */
const literalVerdicts = new WeakMap<DocumentNode, string | null>();

/** The same search over the string literals of a document, by argument path. */
function unstorableLiteralAt(document: DocumentNode): string | null {
  let verdict = literalVerdicts.get(document);
  if (verdict === undefined) {
    verdict = findUnstorableLiteral(document);
    literalVerdicts.set(document, verdict);
  }
  return verdict;
}

function findUnstorableLiteral(document: DocumentNode): string | null {
  const path: string[] = [];
  let found: string | null = null;
  visit(document, {
    // A variable's default value is named by the variable, as its given value would be.
    VariableDefinition: {
      enter: (node) => void path.push(`$${node.variable.name.value}`),
      leave: () => void path.pop(),
    },
    Argument: { enter: (node) => void path.push(node.name.value), leave: () => void path.pop() },
    ObjectField: { enter: (node) => void path.push(node.name.value), leave: () => void path.pop() },
    [Kind.STRING](node) {
      found ??= unstorableTextAt(node.value, path.join(".") || "(literal)");
    },
  });
  return found;
}

/**
 * Refuses, before anything runs, text that PostgreSQL would reject (NUL) or that is not valid
 * Unicode (unpaired surrogates), in variables or literals, naming where it stands (BAD_USER_INPUT,
 * extensions.field).
 */
export function refuseUnstorableText(): Plugin {
  return refuseBeforeRunning((args) => {
    const at =
      unstorableTextAt(args.variableValues ?? {}, "variables")?.replace(/^variables\./, "$") ??
      unstorableLiteralAt(args.document);
    if (at === null) return null;
    return new GraphQLError(`${at}: text must not contain NUL characters or unpaired surrogates`, {
      extensions: { code: "BAD_USER_INPUT", field: at },
    });
  });
}

/**
 * A plugin that checks each operation (query, mutation or subscription) before anything of it
 * runs, and answers the check's error instead when there is one.
 */
export function refuseBeforeRunning(check: (args: ExecutionArgs) => GraphQLError | null): Plugin {
  const stop = ({ args, setResultAndStopExecution }: RefusablePayload) => {
    const error = check(args);
    if (error) setResultAndStopExecution({ errors: [error] });
  };
  return { onExecute: stop, onSubscribe: stop };
}

type RefusablePayload = {
  args: ExecutionArgs;
  setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void;
};
