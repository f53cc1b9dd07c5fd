import { InvocationNode } from "../agents/schema-types.js";
import type { ReadDb } from "../db/reads.js";
import { ActionNode } from "../delivery/schema-types.js";
import { ValidationError } from "../errors.js";
import { EventNode } from "../events/schema.js";
import type { Action, AgentInvocation, Event } from "../generated/prisma/client.js";
import { builder } from "../graphql/builder.js";
import { type TimelineEntry, type TimelineKind, type TimelinePosition, timelineOf } from "./timeline-store.js";

// Consumer.timeline: a creator dashboard's view of one consumer, from one field.

const KINDS = ["EVENT", "DECISION", "MESSAGE"] as const satisfies readonly TimelineKind[];

const TimelineKindEnum = builder.enumType("TimelineKind", {
  description: "What a timeline entry is.",
  values: {
    EVENT: { description: "Something the consumer did or that happened to them (their messages included)." },
    DECISION: { description: "An agent's run on one of their events: what it decided and why." },
    MESSAGE: { description: "A message to them, the agent's or a person's, with its delivery status." },
  },
});

type Row = Event | AgentInvocation | Action;

const TimelineItem = builder.unionType("TimelineItem", {
  types: [EventNode, InvocationNode, ActionNode],
  resolveType: (row: Row) => ("occurredAt" in row ? EventNode : "agentId" in row ? InvocationNode : ActionNode),
});

/** A cursor names its consumer and its entry's place (time, kind, id); opaque to clients. */
const cursorOf = (consumerId: string, e: TimelineEntry) =>
  Buffer.from(`${consumerId}|${e.at.toISOString()}|${e.kind}|${e.id}`).toString("base64url");

/** The place a cursor names, when it is one of this consumer's timeline. Raises ValidationError. */
function positionOf(consumerId: string, cursor: string): TimelinePosition {
  const [owner, at, kind, id] = Buffer.from(cursor, "base64url").toString().split("|");
  const when = new Date(at ?? "");
  const valid =
    owner === consumerId &&
    !Number.isNaN(when.getTime()) &&
    KINDS.includes(kind as TimelineKind) &&
    /^[0-9a-f-]{36}$/.test(id ?? "");
  if (!valid) {
    throw new ValidationError("Invalid input: after: not a cursor of this timeline", [
      { path: "after", message: "not a cursor of this timeline" },
    ]);
  }
  return { at: when, kind: kind as TimelineKind, id: id as string };
}

/** The rows of a page, each loaded from its owner's table in one query per kind, in the page's order. */
async function rowsOf(db: ReadDb, entries: TimelineEntry[]): Promise<Row[]> {
  const ids = (kind: TimelineKind) => entries.filter((e) => e.kind === kind).map((e) => e.id);
  const [events, decisions, messages] = await Promise.all([
    db.event.findMany({ where: { id: { in: ids("EVENT") } } }),
    db.agentInvocation.findMany({ where: { id: { in: ids("DECISION") } } }),
    db.action.findMany({ where: { id: { in: ids("MESSAGE") } } }),
  ]);
  const byId = new Map<string, Row>([...events, ...decisions, ...messages].map((row) => [row.id, row]));
  return entries.flatMap((e) => byId.get(e.id) ?? []);
}

const MAX_PAGE = 100;

builder.prismaObjectFields("Consumer", (t) => ({
  timeline: t.connection({
    type: TimelineItem,
    description:
      "What happened to the consumer, newest first: their events (when they occurred), the agents' decisions on them " +
      "(when queued) and the messages to them (when planned; due and sent times are on each Action). The " +
      "conversation's turns are its events and messages. Paginated forward with first (1 to 100, 50 by default) and after.",
    args: { kinds: t.arg({ type: [TimelineKindEnum], description: "Only these kinds (all by default)." }) },
    select: { id: true, creatorId: true },
    resolve: async (consumer, args, ctx) => {
      if (args.last != null || args.before != null) {
        throw new ValidationError("Invalid input: the timeline is read forward, with first and after", [
          { path: "last", message: "not supported: use first and after" },
        ]);
      }
      const first = args.first ?? 50;
      if (first < 1 || first > MAX_PAGE) {
        throw new ValidationError(`Invalid input: first: from 1 to ${MAX_PAGE}`, [
          { path: "first", message: `from 1 to ${MAX_PAGE}` },
        ]);
      }
      const after = args.after ? positionOf(consumer.id, args.after) : null;
      const kinds = args.kinds && args.kinds.length > 0 ? args.kinds : KINDS;
      const entries = await timelineOf(ctx.reads.sql, consumer.creatorId, consumer.id, kinds, after, first + 1);
      const page = entries.slice(0, first);
      const rows = await rowsOf(ctx.reads.db, page);
      const cursors = new Map(page.map((e) => [e.id, cursorOf(consumer.id, e)]));
      return {
        edges: rows.map((node) => ({ node, cursor: cursors.get(node.id) as string })),
        pageInfo: {
          hasNextPage: entries.length > first,
          hasPreviousPage: after !== null,
          startCursor: page.length > 0 ? cursorOf(consumer.id, page[0]) : null,
          endCursor: page.length > 0 ? cursorOf(consumer.id, page[page.length - 1]) : null,
        },
      };
    },
  }),
}));
