import { GraphQLError } from "graphql";
import { config } from "../config.js";
import { StageEnum } from "../consumers/schema.js";
import { ChannelEnum } from "../creators/schema.js";
import { ActionStatusEnum } from "../delivery/schema-types.js";
import type { Channel, Stage } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { GraphQLLimitError, rateLimited } from "../graphql/errors.js";
import {
  ANALYTICS_WAIT_MS,
  AnalyticsBusyError,
  analyticsOf,
  type CreatorAnalytics,
  DEFAULT_WINDOW_HOURS,
  MAX_RANGE_DAYS,
  MAX_WINDOW_HOURS,
  type MessageOutcomes,
  MIN_WINDOW_HOURS,
  type Money,
} from "./analytics-service.js";
import { AnalyticsTimeoutError, type MessageKind, STATEMENT_TIMEOUT_MS } from "./analytics-store.js";

// Creator.analytics: a creator dashboard's numbers over a time range, from one field.

/** How many analytics fields one request may hold: each is four statements over its whole range. */
const ANALYTICS_PER_REQUEST = 2;

/**
 * What one analytics field costs against GRAPHQL_MAX_COMPLEXITY (5000 by default): just over a
 * third of it (1667), so three never fit in a request, whatever the limit is set to, and at the
 * default two do with every field selected (2 x 1667 + 2 x 785 for their selections); a list of
 * creators (`creators(first: 100)`, ten times the cost) holds none.
 */
const analyticsComplexity = () => Math.floor(config().GRAPHQL_MAX_COMPLEXITY / (ANALYTICS_PER_REQUEST + 1)) + 1;

const MoneyRef = builder.objectRef<Money>("Money").implement({
  description: "An amount in major units of its currency (1200.5 USD is $1,200.50).",
  fields: (t) => ({
    currency: t.exposeString("currency", { description: "ISO 4217 code, upper case (e.g. USD, EUR)." }),
    amount: t.exposeFloat("amount", { description: "In major units (not cents)." }),
  }),
});

const MessageOutcomesRef = builder.interfaceRef<MessageOutcomes>("MessageOutcomes").implement({
  description:
    "What became of email and WhatsApp messages with status SENT and sentAt in the range, until 90 days after " +
    "the range's end, and the enrolments of the range attributed to them. Rates are counts over `sent`, " +
    "from 0 to 1, null when nothing was sent.",
  fields: (t) => ({
    sent: t.exposeInt("sent"),
    delivered: t.exposeInt("delivered", {
      description:
        "Sent messages an outcome event names (payload.actionId): email_delivered (the SMTP server accepted it) " +
        "or email_opened on email, whatsapp_delivered or whatsapp_read on WhatsApp.",
    }),
    read: t.exposeInt("read", {
      description:
        "Sent messages a whatsapp_read, or an email_opened whose payload.actionId names the email (an open " +
        "tracked from its Message-ID <actionId@...> or X-Closer-Action header), names. An open naming no " +
        "message is not counted.",
    }),
    replied: t.exposeInt("replied", {
      description:
        "Sent messages a consumer's message (whatsapp_replied, email_replied) is attributed to: the message it " +
        "quotes (WhatsApp payload.inReplyTo), else the last one sent to that consumer on that channel at or " +
        "before it. Each message counts once.",
    }),
    deliveredRate: t.exposeFloat("deliveredRate", { nullable: true }),
    readRate: t.exposeFloat("readRate", { nullable: true }),
    replyRate: t.exposeFloat("replyRate", { nullable: true }),
    conversions: t.exposeInt("conversions", {
      description:
        "Enrolments in the range attributed to these messages (see ConversionSummary), which may have been " +
        "sent before the range, within the attribution window.",
    }),
    revenue: t.field({
      type: [MoneyRef],
      description: "The known amounts of those enrolments, per currency.",
      resolve: (o) => o.revenue,
    }),
  }),
});

const ChannelPerformanceRef = builder.objectRef<MessageOutcomes & { channel: Channel }>("ChannelPerformance");
ChannelPerformanceRef.implement({
  description: "The outcomes of one channel's messages (EMAIL, WHATSAPP; webhooks are not messages).",
  interfaces: [MessageOutcomesRef],
  fields: (t) => ({ channel: t.expose("channel", { type: ChannelEnum }) }),
});

const MessageSenderEnum = builder.enumType("MessageSender", {
  values: {
    AGENT: { description: "The creator's sales agent." },
    PERSON: { description: "A person, through sendMessage." },
  },
});

const MessageKindPerformanceRef = builder.objectRef<MessageOutcomes & MessageKind>("MessageKindPerformance");
MessageKindPerformanceRef.implement({
  description:
    "The outcomes of one kind of message: the agent's by channel, decision rule, message template and WhatsApp " +
    "template; a person's by channel alone.",
  interfaces: [MessageOutcomesRef],
  fields: (t) => ({
    sender: t.expose("sender", { type: MessageSenderEnum }),
    channel: t.expose("channel", { type: ChannelEnum }),
    rule: t.exposeString("rule", {
      nullable: true,
      description: "The rule of the agent's decision that planned it (e.g. welcome, follow_up); null for a person's.",
    }),
    template: t.exposeString("template", {
      nullable: true,
      description:
        "What the agent's message was (its payload.template, e.g. welcome, follow_up:<service>); null for a person's.",
    }),
    whatsAppTemplate: t.exposeString("whatsAppTemplate", {
      nullable: true,
      description: "The approved WhatsApp template it went as (outside the customer-service window), if any.",
    }),
  }),
});

const StageCountRef = builder.objectRef<{ stage: Stage; consumers: number }>("StageCount");
StageCountRef.implement({
  fields: (t) => ({ stage: t.expose("stage", { type: StageEnum }), consumers: t.exposeInt("consumers") }),
});

const StageFunnelRef = builder.objectRef<CreatorAnalytics["funnel"]>("StageFunnel").implement({
  description:
    "Consumers first seen in the range (when their first event reached Closer: a backfilled older event does " +
    "not move them), by the stage they are in now.",
  fields: (t) => ({
    firstSeen: t.exposeInt("firstSeen"),
    byStage: t.field({
      type: [StageCountRef],
      description: "By current stage, every stage listed.",
      resolve: (f) => f.byStage,
    }),
    reachedAtLeast: t.field({
      type: [StageCountRef],
      description:
        "For NEW, INTERESTED, ENGAGED and CONVERTED: those whose stage is that one or a later one. One who ever " +
        "enrolled counts as CONVERTED (an opt-out after enrolling); LOST and UNSUBSCRIBED ones otherwise count " +
        "under NEW only, their progress before leaving not being recorded.",
      resolve: (f) => f.reachedAtLeast,
    }),
  }),
});

const MessageStatusCountRef = builder.objectRef<CreatorAnalytics["messages"][number]>("MessageStatusCount").implement({
  fields: (t) => ({
    channel: t.expose("channel", { type: ChannelEnum }),
    status: t.expose("status", { type: ActionStatusEnum }),
    count: t.exposeInt("count"),
  }),
});

const WebhookStatusCountRef = builder.objectRef<CreatorAnalytics["webhooks"][number]>("WebhookStatusCount").implement({
  fields: (t) => ({ status: t.expose("status", { type: ActionStatusEnum }), count: t.exposeInt("count") }),
});

const ConversionSummaryRef = builder.objectRef<CreatorAnalytics["conversions"]>("ConversionSummary").implement({
  description:
    "Enrolments (enrolled events) that occurred in the range. Each is attributed to the last email or WhatsApp " +
    "message SENT to its consumer at or before it, if that one was sent within attributionWindowHours before it " +
    "(last touch; a later message, or none in the window: not attributed). Its amount: the event's payload.amount " +
    "(a JSON number, major units) with payload.currency (ISO 4217); else the price and currency listed for " +
    "payload.service (name compared trimmed, case-insensitively) in the creator's profile active when asked; " +
    "else unknown.",
  fields: (t) => ({
    count: t.exposeInt("count"),
    attributed: t.exposeInt("attributed", { description: "Those attributed to a message." }),
    withoutRevenue: t.exposeInt("withoutRevenue", {
      description: "Those whose amount is unknown (in count, not in revenue).",
    }),
    revenue: t.field({ type: [MoneyRef], description: "Known amounts per currency.", resolve: (c) => c.revenue }),
    attributedRevenue: t.field({
      type: [MoneyRef],
      description: "Known amounts of the attributed ones per currency.",
      resolve: (c) => c.attributedRevenue,
    }),
  }),
});

const CreatorAnalyticsRef = builder.objectRef<CreatorAnalytics>("CreatorAnalytics").implement({
  description: "A creator's funnel, messages, their outcomes and conversions over [from, to).",
  fields: (t) => ({
    from: t.expose("from", { type: "DateTime" }),
    to: t.expose("to", { type: "DateTime" }),
    attributionWindowHours: t.exposeInt("attributionWindowHours"),
    funnel: t.field({ type: StageFunnelRef, resolve: (a) => a.funnel }),
    messages: t.field({
      type: [MessageStatusCountRef],
      description:
        "Email and WhatsApp messages planned in the range (createdAt), by channel and status as they are now.",
      resolve: (a) => a.messages,
    }),
    webhooks: t.field({
      type: [WebhookStatusCountRef],
      description: "Webhook calls planned in the range, by status: calls to the creator's systems, not messages.",
      resolve: (a) => a.webhooks,
    }),
    channels: t.field({
      type: [ChannelPerformanceRef],
      description: "EMAIL and WHATSAPP, each listed.",
      resolve: (a) => a.channels,
    }),
    conversions: t.field({ type: ConversionSummaryRef, resolve: (a) => a.conversions }),
    byMessageKind: t.field({
      type: [MessageKindPerformanceRef],
      description: "Every kind of message that was sent in the range or earned an enrolment in it.",
      resolve: (a) => a.byMessageKind,
    }),
  }),
});

builder.prismaObjectFields("Creator", (t) => ({
  analytics: t.field({
    type: CreatorAnalyticsRef,
    complexity: analyticsComplexity,
    description:
      `The creator's analytics over [from, to) (UTC instants; at most ${MAX_RANGE_DAYS} days), from four ` +
      `statements whose cost grows with the rows in the range; a request holds ${ANALYTICS_PER_REQUEST} at most. ` +
      "VALIDATION_FAILED (extensions.issues) when to is not after from, the range is longer, or " +
      `attributionWindowHours is not ${MIN_WINDOW_HOURS} to ${MAX_WINDOW_HOURS}; QUERY_LIMIT_EXCEEDED (limit: time) ` +
      `when a statement runs past ${STATEMENT_TIMEOUT_MS / 1000}s: ask for a shorter range; RATE_LIMITED ` +
      "(retryAfterSeconds) when the server is computing too many analytics to take this one in time.",
    args: {
      from: t.arg({ type: "DateTime", required: true, description: "Included." }),
      to: t.arg({ type: "DateTime", required: true, description: "Excluded." }),
      attributionWindowHours: t.arg.int({
        defaultValue: DEFAULT_WINDOW_HOURS,
        description: `How long before an enrolment a message may be to earn it: ${MIN_WINDOW_HOURS} to ${MAX_WINDOW_HOURS} hours.`,
      }),
    },
    select: { id: true },
    resolve: async (creator, args, ctx) => {
      try {
        return await analyticsOf(
          ctx.reads,
          creator.id,
          args.from,
          args.to,
          args.attributionWindowHours ?? DEFAULT_WINDOW_HOURS,
        );
      } catch (error) {
        if (error instanceof AnalyticsTimeoutError) {
          throw new GraphQLLimitError(
            `The analytics of this range took longer than ${STATEMENT_TIMEOUT_MS / 1000}s: ask for a shorter range (from, to)`,
            "time",
          );
        }
        if (error instanceof AnalyticsBusyError) {
          const retryAfterSeconds = ANALYTICS_WAIT_MS / 1000;
          throw new GraphQLError(`Too many analytics are being computed: retry in ${retryAfterSeconds}s`, {
            extensions: rateLimited(retryAfterSeconds).extensions,
          });
        }
        throw error;
      }
    },
  }),
}));
