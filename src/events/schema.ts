import { parseCursorConnectionArgs } from "@pothos/core";
import { queryFromInfo } from "@pothos/plugin-prisma";
import type { DefaultConnectionArguments } from "@pothos/plugin-relay";
import { GraphQLError, type GraphQLResolveInfo } from "graphql";
import { KNOWN_EVENT_TYPES, SERVER_ONLY_EVENT_TYPES } from "../consumers/event-effects.js";
import { ConsumerContextRef } from "../consumers/schema.js";
import { ChannelEnum, CreatorNode } from "../creators/schema.js";
import { db } from "../db/client.js";
import type { ConsumerContext, Event, Prisma } from "../generated/prisma/client.js";
import { builder } from "../graphql/builder.js";
import type { RequestContext } from "../graphql/context.js";
import { mutationErrors } from "../graphql/error-types.js";
import { forbidden } from "../graphql/errors.js";
import { notFoundWhenRefused, ownRowById } from "../graphql/tenancy.js";
import { retryEvent } from "./event-processing.js";
import { ingestEvents, MAX_BATCH } from "./ingest.js";

// Events' primary key is (id, receivedAt), the table being partitioned by receivedAt
// (event-partition-store.ts), while an Event's global ID holds its id alone: a row is reloaded by
// its primary key (Pothos's default for a prismaObject), a node is found by id.
const EventObject = builder.prismaObject("Event", {
  // Ingest keys see the events they stored in this very request, nothing else.
  authScopes: (event, ctx) => (ctx.ingested.has(event.id) ? true : { creator: event.creatorId }),
  fields: (t) => ({
    type: t.exposeString("type", { description: "A known type (see knownEventTypes) or the client's own." }),
    payload: t.expose("payload", { type: "JSON" }),
    occurredAt: t.expose("occurredAt", { type: "DateTime" }),
    receivedAt: t.expose("receivedAt", { type: "DateTime" }),
    idempotencyKey: t.exposeString("idempotencyKey", { nullable: true }),
    processedAt: t.expose("processedAt", {
      type: "DateTime",
      nullable: true,
      description: "When a worker ran the agents on it (their failures, if any, are on the invocations).",
    }),
    failedAt: t.expose("failedAt", {
      type: "DateTime",
      nullable: true,
      description:
        "When running its agents failed for good before any invocation could record why: listed by failedEvents until retryEvent. Outages are retried, never recorded here.",
    }),
    failureReason: t.exposeString("failureReason", { nullable: true }),
    consumer: t.relation("consumer"),
    invocations: t.relation("invocations"),
  }),
});

export const EventNode = builder.nodeRef(EventObject, {
  id: { resolve: (event: Event) => event.id },
  // Another creator's id loads as missing: null, as an unknown id.
  loadWithoutCache: async (id, ctx, info) =>
    ctx.reads.db.event.findFirst({
      ...(await queryFromInfo({ context: ctx, info, typeName: "Event", awaitSelections: true })),
      where: ownRowById(id, ctx),
    }),
});

const KnownEventType = builder.simpleObject("KnownEventType", {
  fields: (t) => ({ type: t.string(), description: t.string() }),
});

builder.queryField("knownEventTypes", (t) =>
  t.field({
    type: [KnownEventType],
    description: "Event types with a built-in effect on the consumer's context.",
    resolve: () =>
      Object.entries(KNOWN_EVENT_TYPES).map(([type, e]) => ({
        type,
        description: Object.hasOwn(SERVER_ONLY_EVENT_TYPES, type)
          ? `${e.description} Sent from a server, with a creator key: an ingest key is refused.`
          : e.description,
      })),
  }),
);

const EventFilter = builder.inputType("EventFilter", {
  fields: (t) => ({
    consumerId: t.globalID(),
    type: t.stringList({ description: "Any of these types." }),
    occurredAfter: t.field({ type: "DateTime" }),
    occurredBefore: t.field({ type: "DateTime" }),
  }),
});

/** The column a list of events is ordered by, newest first (ties by id, also newest first). */
type EventOrder = "occurredAt" | "failedAt";

/** A list's cursor: its event's place (order's value, id); opaque to clients, and signed by the API. */
const cursorOf = (order: EventOrder, event: Event) =>
  Buffer.from(`${(event[order] as Date).toISOString()}|${event.id}`).toString("base64url");

/** The place a cursor names. Raises BAD_USER_INPUT for anything else (a cursor of another list). */
function positionOf(cursor: string): { at: Date; id: string } {
  const [at, id] = Buffer.from(cursor, "base64url").toString().split("|");
  const when = new Date(at ?? "");
  if (Number.isNaN(when.getTime()) || !/^[0-9a-f-]{36}$/.test(id ?? "")) {
    throw new GraphQLError(`Invalid cursor: ${cursor.slice(0, 100)}`, { extensions: { code: "BAD_USER_INPUT" } });
  }
  return { at: when, id };
}

/**
 * A page of the events `where` selects, newest first by `order`, for a connection's arguments
 * (first/after or last/before; 20 a page by default, at most 100, as Pothos's connections): keyset
 * pagination on (order, id), one query of a page and a row, loading what the page's selection
 * needs (`info`). Not Prisma's cursor, which reads every row past the cursor and trims them in
 * memory (prisma/orm#27094), and finds no cursor row holding a DateTime, as events' primary key
 * (id, receivedAt) does.
 */
async function eventPage(
  order: EventOrder,
  where: Prisma.EventWhereInput,
  args: DefaultConnectionArguments,
  ctx: RequestContext,
  info: GraphQLResolveInfo,
) {
  if (
    (args.before != null && (args.after != null || args.first != null)) ||
    (args.after != null && args.last != null)
  ) {
    throw new GraphQLError("Invalid input: page forward with first and after, or backward with last and before", {
      extensions: { code: "BAD_USER_INPUT" },
    });
  }
  const { before, after, limit, expectedSize, inverted, hasPreviousPage, hasNextPage } = parseCursorConnectionArgs({
    args,
  });
  const cursor = before ?? after;
  const place = cursor ? positionOf(cursor) : null;
  // Forward, past the cursor is older; backward (inverted), newer, read oldest first and turned.
  const past = inverted ? "gt" : "lt";
  const direction = inverted ? "asc" : "desc";
  const rows = await ctx.reads.db.event.findMany({
    ...(await queryFromInfo({ context: ctx, info, typeName: "Event", path: ["edges", "node"], awaitSelections: true })),
    where: place
      ? { AND: [where, { OR: [{ [order]: { [past]: place.at } }, { [order]: place.at, id: { [past]: place.id } }] }] }
      : where,
    orderBy: [{ [order]: direction }, { id: direction }],
    take: limit,
  });
  const page = rows.slice(0, expectedSize);
  if (inverted) page.reverse();
  const edges = page.map((node) => ({ cursor: cursorOf(order, node), node }));
  return {
    edges,
    pageInfo: {
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasPreviousPage: hasPreviousPage(rows.length),
      hasNextPage: hasNextPage(rows.length),
    },
  };
}

/** A page of events and the count of the whole list. */
type CountedPage = Awaited<ReturnType<typeof eventPage>> & { count(): Promise<number> };

builder.prismaObjectFields("Creator", (t) => ({
  events: t.connection(
    {
      type: EventObject,
      description: "Events newest first (by occurredAt).",
      args: { filter: t.arg({ type: EventFilter }) },
      resolve: async (creator, { filter, ...args }, ctx, info) => {
        const where: Prisma.EventWhereInput = {
          creatorId: creator.id,
          ...(filter?.consumerId ? { consumerId: filter.consumerId.id } : {}),
          ...(filter?.type ? { type: { in: filter.type } } : {}),
          ...(filter?.occurredAfter || filter?.occurredBefore
            ? { occurredAt: { gte: filter.occurredAfter ?? undefined, lt: filter.occurredBefore ?? undefined } }
            : {}),
        };
        const page: CountedPage = {
          ...(await eventPage("occurredAt", where, args, ctx, info)),
          count: () => ctx.reads.db.event.count({ where }),
        };
        return page;
      },
    },
    {
      // Counted only when asked, with the list's filter. The connection's type knows the page
      // alone, hence the cast back to what the resolver answered.
      fields: (c) => ({
        totalCount: c.int({ resolve: (connection) => (connection as unknown as CountedPage).count() }),
      }),
    },
  ),
}));

const ConsentInput = builder.inputType("ConsentInput", {
  fields: (t) => ({
    channel: t.field({ type: ChannelEnum, required: true }),
    granted: t.boolean({ required: true }),
    source: t.string({ description: 'How it was given, e.g. "signup_form". Defaults to "api".' }),
  }),
});

const ConsumerRefInput = builder.inputType("ConsumerRefInput", {
  description: "Names the consumer: at least one of externalId, email, phone. Unknown consumers are created.",
  fields: (t) => ({
    externalId: t.string(),
    email: t.string(),
    phone: t.string({ description: "International format, e.g. +14155550123." }),
    name: t.string(),
    timezone: t.string({ description: "IANA zone, used for quiet hours." }),
    attributes: t.field({ type: "JSON", description: "Merged into the context's attributes (at most 4 KiB)." }),
    consents: t.field({ type: [ConsentInput] }),
  }),
});

const EventInput = builder.inputType("EventInput", {
  fields: (t) => ({
    consumer: t.field({ type: ConsumerRefInput, required: true }),
    type: t.string({ required: true }),
    payload: t.field({ type: "JSON", description: "A JSON object of at most 16 KiB." }),
    occurredAt: t.field({ type: "DateTime", description: "Defaults to now; at most 5 minutes ahead." }),
    idempotencyKey: t.string({
      description: "Same key and same body: answered with the first result. Same key, other body: a conflict.",
    }),
  }),
});

/**
 * Refuses (FORBIDDEN), before anything is written, events an ingest key may not send
 * (SERVER_ONLY_EVENT_TYPES): the first one of the request is named, as events.<index> in a batch.
 */
function refuseServerOnlyEvents(ctx: RequestContext, events: { type: string }[]): void {
  if (ctx.viewer?.kind !== "INGEST") return;
  const index = events.findIndex((e) => Object.hasOwn(SERVER_ONLY_EVENT_TYPES, e.type));
  if (index < 0) return;
  const { type } = events[index];
  const refusal =
    `An ingest key may not send ${type} events (${SERVER_ONLY_EVENT_TYPES[type]}): ` +
    "send them from the creator's server with a creator key";
  throw forbidden(events.length > 1 ? `events.${index}: ${refusal}` : refusal);
}

const IngestedEvent = builder
  .objectRef<{ event: Event; duplicate: boolean; context: ConsumerContext }>("IngestedEvent")
  .implement({
    fields: (t) => ({
      event: t.field({ type: EventNode, resolve: (r) => r.event }),
      duplicate: t.exposeBoolean("duplicate", { description: "True when the idempotency key was seen before." }),
      context: t.field({
        type: ConsumerContextRef,
        description: "The consumer's context after this request.",
        resolve: (r) => r.context,
      }),
    }),
  });

const IngestedEvents = builder
  .objectRef<{ results: { event: Event; duplicate: boolean; context: ConsumerContext }[] }>("IngestedEvents")
  .implement({
    fields: (t) => ({
      results: t.field({
        type: [IngestedEvent],
        description: "One per input event, in input order.",
        resolve: (r) => r.results,
      }),
    }),
  });

builder.mutationField("ingestEvent", (t) =>
  t.field({
    type: IngestedEvent,
    errors: mutationErrors,
    description: "Stores one behavioural event and updates the consumer's context; the agent runs in the background.",
    args: {
      creatorId: t.arg.globalID({ required: true, for: CreatorNode }),
      event: t.arg({ type: EventInput, required: true }),
    },
    authScopes: (_root, args) => ({ ingest: args.creatorId.id }),
    resolve: async (_root, args, ctx) => {
      refuseServerOnlyEvents(ctx, [args.event]);
      const [result] = await ingestEvents(args.creatorId.id, [args.event], ctx.viewer);
      ctx.ingested.add(result.event.id);
      ctx.ingestedConsumers.add(result.event.consumerId);
      return result;
    },
  }),
);

builder.mutationField("ingestEvents", (t) =>
  t.field({
    type: IngestedEvents,
    errors: mutationErrors,
    description: `Stores up to ${MAX_BATCH} events at once, all or nothing: one bad event rejects the batch, and the error names it (events.<index>).`,
    args: {
      creatorId: t.arg.globalID({ required: true, for: CreatorNode }),
      events: t.arg({ type: [EventInput], required: true }),
    },
    authScopes: (_root, args) => ({ ingest: args.creatorId.id }),
    resolve: async (_root, args, ctx) => {
      refuseServerOnlyEvents(ctx, args.events);
      const results = await ingestEvents(args.creatorId.id, args.events, ctx.viewer);
      for (const r of results) {
        ctx.ingested.add(r.event.id);
        ctx.ingestedConsumers.add(r.event.consumerId);
      }
      return { results };
    },
  }),
);

builder.queryField("failedEvents", (t) =>
  t.connection({
    type: EventObject,
    description:
      "The dead-letter view of events: those whose agents could not be run at all after every retry (failedInvocations holds runs that failed), newest failure first. Admin keys see all creators.",
    authScopes: { manager: true },
    resolve: (_root, args, ctx, info) =>
      eventPage(
        "failedAt",
        {
          failedAt: { not: null },
          ...(ctx.viewer?.kind === "ADMIN" ? {} : { creatorId: ctx.viewer?.creatorId as string }),
        },
        args,
        ctx,
        info,
      ),
  }),
);

builder.mutationField("retryEvent", (t) =>
  t.field({
    type: EventNode,
    errors: mutationErrors,
    description: "Runs the agents again on an event of the dead-letter view (failedEvents).",
    args: { id: t.arg.globalID({ required: true, for: EventNode }) },
    authScopes: async (_root, { id }) => {
      const found = await db.event.findFirst({ where: { id: id.id }, select: { creatorId: true } });
      return found ? { creator: found.creatorId } : { manager: true };
    },
    unauthorizedResolver: notFoundWhenRefused("Event", (args: { id: { id: string } }) => args.id.id),
    resolve: (_root, { id }, ctx) => retryEvent(id.id, ctx.viewer),
  }),
);
