// `npm run demo`: the whole loop in under a minute, against a running system (`npm start`).
// It onboards a creator from examples/onboard.json (the offline builder writes the profile unless
// OPENAI_API_KEY is set), turns quiet hours off and deploys the agent with no welcome or reply
// delay (so it shows the same at any hour), registers and approves the agent's WhatsApp
// templates, then sends events for two consumers and a WhatsApp reply, printing the decisions as
// `agentDecisions` streams them and each message as the provider stand-ins receive it.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { closerClient } from "../client/index.js";
import { createApiKey, revokeApiKey } from "../src/auth/api-keys.js";
import { config, loadConfigOrExit } from "../src/config.js";
import { db } from "../src/db/client.js";
import { closeSharedConnections } from "../src/shutdown.js";
import { graphql } from "../test/generated/gql.js";
import { agentTemplates } from "./fixtures.js";
import { describeSunkMessage, type SunkMessage, startProviderSinks } from "./sinks.js";
import { postWhatsAppReply } from "./whatsapp-reply.js";

/** The demo gives up after this long; each step normally takes a second or two. */
const DEADLINE_MS = 55_000;
/** The name of the admin key each run mints for itself (and revokes when it ends). */
const DEMO_KEY_NAME = "npm run demo";

const OnboardDemoCreator = graphql(`
  mutation OnboardDemoCreator($input: OnboardCreatorInput!) {
    onboardCreator(input: $input) {
      __typename
      ... on Onboarding {
        id
        creator {
          id
          handle
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const DemoOnboardingProgress = graphql(`
  subscription DemoOnboardingProgress($id: ID!) {
    onboardingProgress(onboardingId: $id) {
      status
      step {
        step
        status
        message
      }
      onboarding {
        reviewReasons
        error
        profile {
          source
          services {
            name
          }
        }
      }
    }
  }
`);

const TurnOffQuietHours = graphql(`
  mutation TurnOffQuietHours($id: ID!) {
    updateCreator(id: $id, input: { quietHoursStart: "00:00", quietHoursEnd: "00:00" }) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

const RegisterDemoTemplate = graphql(`
  mutation RegisterDemoTemplate($creatorId: ID!, $input: RegisterWhatsAppTemplateInput!) {
    registerWhatsAppTemplate(creatorId: $creatorId, input: $input) {
      __typename
      ... on WhatsAppTemplate {
        id
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const ApproveDemoTemplate = graphql(`
  mutation ApproveDemoTemplate($id: ID!) {
    setWhatsAppTemplateStatus(id: $id, status: APPROVED) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

const DeployDemoAgent = graphql(`
  mutation DeployDemoAgent($creatorId: ID!) {
    deployAgent(input: { creatorId: $creatorId, tunables: { welcomeDelayMinutes: 0, replyDelaySeconds: 0 } }) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

const DemoDecisions = graphql(`
  subscription DemoDecisions($creatorId: ID!) {
    agentDecisions(creatorId: $creatorId) {
      acted
      reason
      event {
        type
        consumer {
          name
        }
      }
      actions {
        channel
        sendAt
      }
    }
  }
`);

const DemoActionUpdates = graphql(`
  subscription DemoActionUpdates($creatorId: ID!) {
    actionUpdates(creatorId: $creatorId) {
      id
      channel
      status
      statusReason
      providerMessageId
      consumer {
        name
      }
    }
  }
`);

const DemoIngest = graphql(`
  mutation DemoIngest($creatorId: ID!, $event: EventInput!) {
    ingestEvent(creatorId: $creatorId, event: $event) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

const started = Date.now();
/** Prints a line with the seconds since the demo started. */
function say(line: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(4);
  console.log(`[${seconds}s] ${line.replaceAll("\n", "\n         ")}`);
}

/** The answer of a mutation whose result is a union with Error: its own type, or a thrown message. */
function expectType<T extends { __typename: string }, N extends T["__typename"]>(
  result: T,
  typename: N,
  what: string,
): Extract<T, { __typename: N }> {
  if (result.__typename === typename) return result as Extract<T, { __typename: N }>;
  const error = result as unknown as { code?: string; message?: string };
  throw new Error(`${what}: ${result.__typename} ${error.code ?? ""} ${error.message ?? ""}`.trim());
}

/** Rejects when the demo's time is up: every wait races it, so the demo always ends by then. */
let deadlineTimer: NodeJS.Timeout | undefined;
const deadline = new Promise<never>((_, reject) => {
  deadlineTimer = setTimeout(() => reject(new Error(`gave up after ${DEADLINE_MS / 1000} s`)), DEADLINE_MS);
});
// Raced by each wait, or by none when an earlier step fails: never an unhandled rejection.
deadline.catch(() => {});

/** `promise`, unless the deadline comes first: then an error saying what was awaited. */
function within<T>(what: string, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    deadline.catch((error: Error) => Promise.reject(new Error(`${error.message} waiting for ${what}`))),
  ]);
}

/** Resolves once `check` holds, checked each time `notify` is called. */
function waitFor(check: () => boolean) {
  let notify = () => {};
  const promise = new Promise<void>((resolve) => {
    notify = () => {
      if (check()) resolve();
    };
  });
  return { promise, notify: () => notify() };
}

loadConfigOrExit();
const url = process.env.CLOSER_URL ?? `http://localhost:${config().PORT}/graphql`;
const ready = await fetch(new URL("/ready", url)).catch(() => null);
if (!ready?.ok) {
  console.error(
    `The API at ${url} is not ready${ready ? ` (${ready.status})` : ""}. Start the system first, in another terminal: npm start`,
  );
  process.exit(1);
}

const run = randomBytes(3).toString("hex");
/** This run's consumers: contact details of their own, so other runs' messages are told apart. */
const asha = { name: "Asha", email: `asha.${run}@example.com` };
// One of the numbers Ofcom keeps for drama (07700 900000-900999): valid, and never anyone's.
const ravi = { name: "Ravi", phone: `+447700900${String(randomBytes(2).readUInt16BE() % 1000).padStart(3, "0")}` };
const digits = (phone: string) => phone.replace(/\D/g, "");
const ours = (message: SunkMessage) =>
  message.channel === "EMAIL" ? message.to === asha.email : digits(message.to) === digits(ravi.phone);

const sunk: SunkMessage[] = [];
let sinksHere = true;
const sent = new Map<string, { channel: string; providerMessageId: string | null }>();
// Three messages: Asha's welcome email, Ravi's WhatsApp template, the answer to his reply.
const messagesSent = waitFor(() => (sinksHere ? sunk.length >= 3 : sent.size >= 3));
const welcomeOnWhatsApp = () => [...sent.values()].find((s) => s.channel === "WHATSAPP" && s.providerMessageId);
const whatsAppSent = waitFor(() => welcomeOnWhatsApp() !== undefined);

// The provider stand-ins, unless `npm run sinks` already runs them (then messages print there).
const sinks = await startProviderSinks((message) => {
  if (!ours(message)) return;
  sunk.push(message);
  say(describeSunkMessage(message));
  messagesSent.notify();
}).catch((error: NodeJS.ErrnoException) => {
  if (error.code !== "EADDRINUSE") throw error;
  sinksHere = false;
  say("The provider ports are taken (npm run sinks?): the messages print there; here only their status.");
  return null;
});

// A key for this run only, minted as `npm run create-admin-key` does and revoked at the end.
const { apiKey, secret } = await createApiKey({ kind: "ADMIN", name: DEMO_KEY_NAME }, null);
const closer = closerClient({ url, apiKey: secret });
const stops: (() => void)[] = [];

let cleaning: Promise<void> | null = null;
/** Ends the streams, revokes this run's key, closes the stand-ins and connections; once. */
function cleanUp({ interrupted = false } = {}): Promise<void> {
  cleaning ??= (async () => {
    clearTimeout(deadlineTimer);
    for (const stop of stops) stop();
    await revokeApiKey(apiKey.id, null);
    if (sinks && !interrupted) await whileOtherRunsGoOn();
    await sinks?.close();
    await closeSharedConnections();
  })();
  return cleaning;
}

/**
 * Another run started beside this one found the provider ports taken and sends to this run's
 * stand-ins: they stay up until it is done (its key revoked), for at most a minute. A run's key
 * is the sign it is going on: every run mints one and revokes it when it ends.
 */
async function whileOtherRunsGoOn(): Promise<void> {
  const others = () =>
    db.apiKey.count({
      where: {
        name: DEMO_KEY_NAME,
        revokedAt: null,
        id: { not: apiKey.id },
        createdAt: { gte: new Date(Date.now() - 2 * DEADLINE_MS) },
      },
    });
  const until = Date.now() + 60_000;
  if ((await others()) > 0) say("Another run is using these stand-ins: keeping them up until it is done");
  while (Date.now() < until && (await others()) > 0) await new Promise((resolve) => setTimeout(resolve, 250));
}
// Ctrl-C or a SIGTERM mid-run still revokes the key (128 + the signal's number, as shells expect).
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const) {
  process.once(signal, () => {
    say(`${signal}: revoking this run's key and stopping`);
    void cleanUp({ interrupted: true }).finally(() => process.exit(code));
  });
}

try {
  const raw = JSON.parse(readFileSync(new URL("../examples/onboard.json", import.meta.url), "utf8")) as {
    variables: { i: Record<string, unknown> };
  };
  const onboarded = expectType(
    (
      await closer.request(OnboardDemoCreator, {
        input: { ...raw.variables.i, handle: `demo-${run}`, name: "Maya Rao" } as never,
      })
    ).onboardCreator,
    "Onboarding",
    "onboardCreator",
  );
  const creatorId = onboarded.creator.id;
  say(`Onboarding creator @${onboarded.creator.handle} from examples/onboard.json`);

  const onboardingDone = new Promise<void>((resolve, reject) => {
    const stop = closer.subscribe(
      DemoOnboardingProgress,
      { id: onboarded.id },
      ({ onboardingProgress: p }) => {
        if (p.step?.status === "SUCCEEDED") say(`  ${p.step.step}: ${p.step.message ?? "done"}`);
        if (p.status === "SUCCEEDED") {
          const profile = p.onboarding.profile;
          say(`Profile ${profile?.source}: ${profile?.services.map((s) => s.name).join(", ")}; agent deployed`);
          resolve();
        } else if (p.status === "FAILED" || p.status === "NEEDS_REVIEW") {
          reject(new Error(`onboarding ${p.status}: ${p.onboarding.error ?? p.onboarding.reviewReasons.join("; ")}`));
        }
      },
      reject,
    );
    stops.push(stop);
  });
  await within("the onboarding", onboardingDone);

  expectType((await closer.request(TurnOffQuietHours, { id: creatorId })).updateCreator, "Creator", "updateCreator");
  say("Quiet hours off (start = end); by default nothing is sent 21:00-08:00 in the creator's time zone");
  for (const template of agentTemplates) {
    const registered = expectType(
      (
        await closer.request(RegisterDemoTemplate, {
          creatorId,
          input: { ...template, name: `demo_${run}_${template.name}` },
        })
      ).registerWhatsAppTemplate,
      "WhatsAppTemplate",
      "registerWhatsAppTemplate",
    );
    expectType(
      (await closer.request(ApproveDemoTemplate, { id: registered.id })).setWhatsAppTemplateStatus,
      "WhatsAppTemplate",
      "setWhatsAppTemplateStatus",
    );
  }
  say(`${agentTemplates.length} WhatsApp templates registered and approved (Meta's part, played here by an admin)`);
  expectType((await closer.request(DeployDemoAgent, { creatorId })).deployAgent, "Agent", "deployAgent");
  say("Agent redeployed with welcomeDelayMinutes 0 and replyDelaySeconds 0");

  stops.push(
    closer.subscribe(
      DemoDecisions,
      { creatorId },
      ({ agentDecisions: d }) => {
        if (!d) return;
        const plans = d.actions.map((a) => `${a.channel} at ${a.sendAt.slice(11, 19)} UTC`).join(", ");
        say(
          `Decision on ${d.event.consumer.name}'s ${d.event.type}: ${d.acted ? "act" : "no action"}: ${d.reason}` +
            (plans ? `\n  planned: ${plans}` : ""),
        );
      },
      (error) => say(`agentDecisions stream: ${String(error)}`),
    ),
    closer.subscribe(
      DemoActionUpdates,
      { creatorId },
      ({ actionUpdates: a }) => {
        if (!a) return;
        if (a.status === "SENT") {
          sent.set(a.id, { channel: a.channel, providerMessageId: a.providerMessageId });
          if (!sinksHere) say(`${a.channel} message to ${a.consumer.name} sent`);
          messagesSent.notify();
          whatsAppSent.notify();
        } else if (a.status !== "PLANNED" && a.status !== "SENDING") {
          say(`${a.channel} message to ${a.consumer.name}: ${a.status} (${a.statusReason ?? "no reason"})`);
        }
      },
      (error) => say(`actionUpdates stream: ${String(error)}`),
    ),
  );
  // Subscriptions are live once their stream is open; a short pause keeps the first decision in view.
  await new Promise((resolve) => setTimeout(resolve, 500));

  const events = [
    {
      type: "page_view",
      idempotencyKey: `demo-${run}-asha-view`,
      consumer: {
        externalId: `demo-${run}-asha`,
        name: asha.name,
        email: asha.email,
        consents: [{ channel: "EMAIL" as const, granted: true, source: "demo signup form" }],
      },
      payload: { url: "/programs/sprint", service: "Leadership Sprint" },
    },
    {
      type: "page_view",
      idempotencyKey: `demo-${run}-ravi-view`,
      consumer: {
        externalId: `demo-${run}-ravi`,
        name: ravi.name,
        phone: ravi.phone,
        consents: [{ channel: "WHATSAPP" as const, granted: true, source: "demo signup form" }],
      },
      payload: { url: "/coaching", service: "1:1 Coaching" },
    },
  ];
  for (const event of events) {
    expectType((await closer.request(DemoIngest, { creatorId, event })).ingestEvent, "IngestedEvent", "ingestEvent");
    const contact = event.consumer.email ?? `${event.consumer.phone}, on WhatsApp`;
    say(`Event: ${event.consumer.name} (${contact}) viewed ${event.payload.service}`);
  }

  // Ravi answers the WhatsApp welcome, as Meta would post it to the callback URL, quoting it.
  await within("the WhatsApp welcome to be sent", whatsAppSent.promise);
  const text = "How much is 1:1 Coaching?";
  const status = await postWhatsAppReply(url, {
    from: ravi.phone,
    name: ravi.name,
    text,
    quoting: welcomeOnWhatsApp()?.providerMessageId,
  });
  if (status !== 200) throw new Error(`the WhatsApp callback answered ${status}`);
  say(`Ravi replies on WhatsApp: "${text}"`);

  await within("the three messages (an email, a WhatsApp template, a WhatsApp reply)", messagesSent.promise);
  const base = new URL("/", url).toString();
  say(
    `Done in ${((Date.now() - started) / 1000).toFixed(1)} s. This run's key is revoked: to look around, ` +
      `open ${base}ops (the ops console) or ${url} (GraphiQL) with a key from npm run create-admin-key.`,
  );
} catch (error) {
  say(`The demo stopped: ${error instanceof Error ? error.message : String(error)}`);
  say("Is the worker running (npm start runs the API and the worker)? Its log says what it did.");
  process.exitCode = 1;
} finally {
  await cleanUp();
}
