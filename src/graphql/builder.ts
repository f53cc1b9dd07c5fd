import SchemaBuilder from "@pothos/core";
import ComplexityPlugin from "@pothos/plugin-complexity";
import ErrorsPlugin from "@pothos/plugin-errors";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import SimpleObjectsPlugin from "@pothos/plugin-simple-objects";
import { GraphQLError } from "graphql";
import { DateTimeResolver, JSONResolver } from "graphql-scalars";
import { config } from "../config.js";
import type PrismaTypes from "../generated/pothos-types.js";
import { getDatamodel } from "../generated/pothos-types.js";
import type { RequestContext } from "./context.js";
import { forbidden, GraphQLLimitError, invalidId, unauthenticated } from "./errors.js";

/** How many ids one `nodes` query may ask for: a page's worth, not a way around query costs. */
const MAX_NODES = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const builder = new SchemaBuilder<{
  Context: RequestContext;
  PrismaTypes: PrismaTypes;
  AuthScopes: {
    /** A platform operator's key. */
    admin: boolean;
    /** Any key that may read and manage data (admin or creator key). */
    manager: boolean;
    /** Full access to one creator's data: admin, or that creator's creator key. */
    creator: string;
    /** Event ingestion for one creator: admin, or that creator's creator or ingest key. */
    ingest: string;
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  // Fields are non-null unless they say otherwise: clients should not null-check what is always there.
  defaultFieldNullability: false,
  // Plugin order matters: the first wraps the others' resolvers. Errors outermost, so an
  // operation refused by scope can answer a typed NotFoundError (see graphql/tenancy.ts); then
  // scope-auth; errors before prisma.
  plugins: [ErrorsPlugin, ScopeAuthPlugin, ComplexityPlugin, PrismaPlugin, RelayPlugin, SimpleObjectsPlugin],
  scopeAuth: {
    // Type-level scopes run once per object, so a creator key can never read another
    // creator's row, whatever field or node(id) leads to it.
    runScopesOnType: true,
    authorizeOnSubscribe: true,
    authScopes: (ctx) => {
      const viewer = ctx.viewer;
      const admin = viewer?.kind === "ADMIN";
      return {
        admin,
        manager: admin || viewer?.kind === "CREATOR",
        creator: (creatorId: string) => admin || (viewer?.kind === "CREATOR" && viewer.creatorId === creatorId),
        ingest: (creatorId: string) => admin || (viewer !== null && viewer.creatorId === creatorId),
      };
    },
    unauthorizedError: (_parent, ctx) => (ctx.viewer ? forbidden() : unauthenticated()),
  },
  errors: { directResult: true },
  complexity: {
    defaultComplexity: 1,
    defaultListMultiplier: 10,
    limit: () => ({
      complexity: config().GRAPHQL_MAX_COMPLEXITY,
      depth: config().GRAPHQL_MAX_DEPTH,
      breadth: config().GRAPHQL_MAX_BREADTH,
    }),
    complexityError: (kind, result) => {
      const limit = String(kind).toLowerCase() as "depth" | "breadth" | "complexity";
      const max = { depth: result.maxDepth, breadth: result.maxBreadth, complexity: result.maxComplexity }[limit];
      return new GraphQLLimitError(`Query ${limit} ${result[limit]} exceeds the limit of ${max}`, limit);
    },
  },
  prisma: {
    // Relations and nodes load through the operation's reads (the read replica's for a query).
    client: (ctx) => ctx.reads.db,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    // A resolver that forgets to spread `query` would cause N+1 queries: fail loudly outside production.
    onUnusedQuery: config().NODE_ENV === "production" ? null : "error",
  },
  relay: {
    // Every row id is a UUID: an ID that does not hold one is the client's mistake, answered as
    // such before it reaches a query (where PostgreSQL would fail on it). Every prismaNode is
    // `nullable`: a well-formed ID of a row that does not exist answers null.
    decodeGlobalID: (globalID) => {
      const [typename, id] = Buffer.from(globalID, "base64").toString().split(/:(.*)/s);
      if (!typename || !UUID.test(id ?? "")) throw invalidId(globalID);
      return { typename, id };
    },
    clientMutationId: "omit",
    nodesQueryOptions: {
      description: `Nodes by id, in the order asked, null for any that is unknown or not yours: at most ${MAX_NODES} at once.`,
      resolve: (_root, args, _ctx, _info, resolveNodes) => {
        if (args.ids.length > MAX_NODES) {
          throw new GraphQLError(`nodes takes at most ${MAX_NODES} ids at once`, {
            extensions: { code: "BAD_USER_INPUT", field: "ids" },
          });
        }
        return resolveNodes(args.ids);
      },
    },
    cursorType: "String",
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("JSON", JSONResolver);

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
