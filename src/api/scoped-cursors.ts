import { createHmac, timingSafeEqual } from "node:crypto";
import {
  type ArgumentNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  type GraphQLSchema,
  getNamedType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { RequestContext } from "../graphql/context.js";

// Connection cursors are opaque and scoped: each one the API hands out is signed for the key's
// scope (its creator, or the platform for admin keys), and `after`/`before` accept only such
// cursors. A cursor built by hand from a row id, or issued to another creator's key, is invalid
// exactly as a malformed one is, so no cursor can position a page on another creator's rows.

/** Fields whose values are connection cursors (Relay Cursor Connections spec: Edge.cursor, PageInfo). */
const CURSOR_FIELDS = new Set(["cursor", "startCursor", "endCursor"]);
/** Arguments that take one back. */
const CURSOR_ARGUMENTS = new Set(["after", "before"]);
const SEPARATOR = ".";

function scopeOf(ctx: RequestContext): string {
  const viewer = ctx.viewer;
  return viewer?.kind === "ADMIN" ? "platform" : (viewer?.creatorId ?? "anonymous");
}

function signature(secret: string, scope: string, cursor: string): string {
  return createHmac("sha256", secret).update(`${scope}\n${cursor}`).digest("base64url").slice(0, 22);
}

/** The cursor as handed out: the connection's own cursor and its signature for the scope. */
export function signCursor(secret: string, scope: string, cursor: string): string {
  return `${cursor}${SEPARATOR}${signature(secret, scope, cursor)}`;
}

/** The connection's own cursor inside a signed one, or null when the signature does not hold. */
export function openCursor(secret: string, scope: string, signed: string): string | null {
  const at = signed.lastIndexOf(SEPARATOR);
  if (at <= 0) return null;
  const cursor = signed.slice(0, at);
  const given = Buffer.from(signed.slice(at + 1));
  const expected = Buffer.from(signature(secret, scope, cursor));
  return given.length === expected.length && timingSafeEqual(given, expected) ? cursor : null;
}

/** The default value a document gives a variable, when it is a string literal. */
function defaultOf(document: DocumentNode, variable: string): string | undefined {
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const found = definition.variableDefinitions?.find((v) => v.variable.name.value === variable);
    if (found?.defaultValue?.kind === Kind.STRING) return found.defaultValue.value;
  }
  return undefined;
}

function invalidCursor(value: string): GraphQLError {
  return new GraphQLError(`Invalid cursor: ${value.slice(0, 100)}`, { extensions: { code: "BAD_USER_INPUT" } });
}

/** Types whose cursor fields are connection cursors (Relay: XxxEdge.cursor, PageInfo.start/endCursor). */
function isCursorField(parentType: string | undefined, field: string): boolean {
  if (!CURSOR_FIELDS.has(field) || !parentType) return false;
  return field === "cursor" ? parentType.endsWith("Edge") : parentType === "PageInfo";
}

/**
 * The response keys (aliases included) under which the document selects connection cursors,
 * or an error when another field would answer under one of them: results are signed by key, so
 * no other value may stand where a cursor does (it would come back signed).
 */
function cursorResponseKeys(schema: GraphQLSchema, document: DocumentNode): Set<string> | GraphQLError {
  const cursors = new Set<string>();
  const others: { key: string; name: string }[] = [];
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const key = node.alias?.value ?? node.name.value;
        const parent = typeInfo.getParentType();
        if (isCursorField(parent ? getNamedType(parent).name : undefined, node.name.value)) cursors.add(key);
        else others.push({ key, name: node.name.value });
      },
    }),
  );
  const clash = others.find(({ key }) => cursors.has(key) || CURSOR_FIELDS.has(key));
  if (clash) {
    return new GraphQLError(
      `The response name "${clash.key}" is kept for connection cursors: alias ${clash.name} otherwise`,
      {
        extensions: { code: "BAD_USER_INPUT" },
      },
    );
  }
  return cursors;
}

/** What a document does with cursors, worked out once per document (see cursorsOf). */
type CursorUse = { takesCursors: boolean; keys: Set<string> | GraphQLError };
const cursorUses = new WeakMap<DocumentNode, CursorUse>();

/**
 * Whether the document passes `after`/`before` anywhere, and the response keys of the cursors it
 * selects (cursorResponseKeys). A document is immutable and Yoga's parser cache hands the same one
 * out for the same query, so this is read once per document, not per request.
 */
function cursorsOf(schema: GraphQLSchema, document: DocumentNode): CursorUse {
  let use = cursorUses.get(document);
  if (!use) {
    let takesCursors = false;
    visit(document, {
      Argument(node) {
        if (CURSOR_ARGUMENTS.has(node.name.value)) takesCursors = true;
      },
    });
    use = { takesCursors, keys: cursorResponseKeys(schema, document) };
    cursorUses.set(document, use);
  }
  return use;
}

function signResult(value: unknown, keys: Set<string>, sign: (cursor: string) => string): void {
  if (Array.isArray(value)) {
    for (const item of value) signResult(item, keys, sign);
  } else if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    for (const [key, item] of Object.entries(record)) {
      if (keys.has(key) && typeof item === "string") record[key] = sign(item);
      else signResult(item, keys, sign);
    }
  }
}

/**
 * Opens the signed cursors a request sends (`after`/`before`, as literals or variables) and
 * signs the cursors its result carries. A cursor that does not open answers BAD_USER_INPUT
 * before anything runs.
 */
export function scopedCursors(secret: string): Plugin<Record<string, unknown>, RequestContext> {
  return {
    onExecute({ args, executeFn, setExecuteFn, setResultAndStopExecution }) {
      const { takesCursors, keys } = cursorsOf(args.schema, args.document);
      if (keys instanceof GraphQLError) return setResultAndStopExecution({ errors: [keys] });
      // Most requests (every ingestion) neither send nor select a cursor: nothing to open or sign.
      if (!takesCursors && keys.size === 0) return;
      const scope = scopeOf(args.contextValue as unknown as RequestContext);
      const variables = { ...(args.variableValues ?? {}) };
      let refused: GraphQLError | null = null;
      const open = (value: string): string => {
        const cursor = openCursor(secret, scope, value);
        if (cursor === null) refused ??= invalidCursor(value);
        return cursor ?? value;
      };
      const document = visit(args.document, {
        Argument(node: ArgumentNode) {
          if (!CURSOR_ARGUMENTS.has(node.name.value)) return undefined;
          if (node.value.kind === Kind.VARIABLE) {
            const name = node.value.name.value;
            // A variable not sent takes its default from the document: that one is opened too.
            const given = name in variables ? variables[name] : defaultOf(args.document, name);
            if (typeof given === "string") variables[name] = open(given);
            return undefined;
          }
          if (node.value.kind === Kind.STRING)
            return { ...node, value: { ...node.value, value: open(node.value.value) } };
          return undefined;
        },
      });
      if (refused) return setResultAndStopExecution({ errors: [refused] });
      setExecuteFn((executionArgs: ExecutionArgs) =>
        executeFn({ ...executionArgs, document, variableValues: variables }),
      );
      if (keys.size === 0) return;
      return {
        onExecuteDone({ result }) {
          const sign = (cursor: string) => signCursor(secret, scope, cursor);
          if ("data" in result) signResult((result as ExecutionResult).data, keys, sign);
        },
      };
    },
  };
}
