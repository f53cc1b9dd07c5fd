import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "../src/db/client.js";
import { CHILD_PROCESS_TEST_MS, freePort, startProcess, waitForHttp } from "./support/processes.js";

// `npm run demo` as the README tells a newcomer to run it: against the API and the worker running
// as their own processes, with the provider stand-ins the demo starts on the configured ports.

type Run = { code: number | null; output: string };

function runDemo(env: Record<string, string>, onOutput: (output: string, child: ChildProcess) => void = () => {}) {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts"], {
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    onOutput(output, child);
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise<Run>((resolve) => child.on("exit", (code) => resolve({ code, output })));
}

describe("npm run demo", () => {
  const children: ChildProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    const [api, smtp, whatsApp, metrics] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    env = {
      PORT: String(api),
      SMTP_URL: `smtp://127.0.0.1:${smtp}`,
      WHATSAPP_API_URL: `http://127.0.0.1:${whatsApp}/v19.0`,
      WORKER_METRICS_PORT: String(metrics),
      CLOSER_URL: `http://127.0.0.1:${api}/graphql`,
    };
    children.push(startProcess("src/server.ts", env), startProcess("worker/main.ts", env));
    await waitForHttp(`http://127.0.0.1:${api}/ready`);
  }, CHILD_PROCESS_TEST_MS);

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      ),
    );
  }, CHILD_PROCESS_TEST_MS);

  it(
    "prints the decisions and an email and WhatsApp messages as the stand-ins receive them, then exits 0",
    async () => {
      const { code, output } = await runDemo(env);
      expect(output).toContain("Profile OFFLINE: Leadership Sprint, 1:1 Coaching; agent deployed");
      // The welcomes: Asha by email (email consent only), Ravi by WhatsApp template (never wrote).
      expect(output).toMatch(/Decision on Asha's page_view: act: A newly interested consumer: welcome them\n.*EMAIL/);
      expect(output).toMatch(/Decision on Ravi's page_view: act: .*\n.*WHATSAPP/);
      expect(output).toMatch(
        /Email to asha\.[0-9a-f]{6}@example\.com \[Leadership Sprint, from Maya Rao\]\n.*Hi Asha! Thanks for looking at Leadership Sprint\. .*It's \$1,200\./,
      );
      expect(output).toMatch(
        /WhatsApp to \+447700900\d{3} \[template demo_[0-9a-f]{6}_welcome_service \(en_US\)\]\n.*\{\{1\}\} Ravi\n.*\{\{2\}\} 1:1 Coaching/,
      );
      // His answer opens the customer-service window: the agent's answer goes as free text.
      expect(output).toMatch(/Decision on Ravi's whatsapp_replied: act: A price question about 1:1 Coaching/);
      expect(output).toMatch(/WhatsApp to \+447700900\d{3}\n.*1:1 Coaching is \$300\./);
      const seconds = Number(/Done in ([\d.]+) s\./.exec(output)?.[1]);
      expect(seconds).toBeLessThan(60);
      expect(code).toBe(0);
    },
    CHILD_PROCESS_TEST_MS,
  );

  it(
    "runs beside another run, each waiting for its own messages; the one without the stand-ins reports sends",
    async () => {
      const [first, second] = await Promise.all([runDemo(env), runDemo(env)]);
      for (const { code, output } of [first, second]) {
        expect(code, output).toBe(0);
        expect(output).toMatch(/Done in [\d.]+ s\./);
      }
      const [withSinks, without] = first.output.includes("ports are taken") ? [second, first] : [first, second];
      expect(withSinks.output.match(/^\[ *[\d.]+s\] (Email|WhatsApp) to /gm)).toHaveLength(3);
      expect(without.output.match(/^\[ *[\d.]+s\] (EMAIL|WHATSAPP) message to \w+ sent$/gm)).toHaveLength(3);
    },
    CHILD_PROCESS_TEST_MS,
  );

  it(
    "revokes its key when interrupted",
    async () => {
      const before = new Date();
      let interrupted = false;
      const { code, output } = await runDemo(env, (text, child) => {
        if (interrupted || !text.includes("Onboarding creator")) return;
        interrupted = true;
        child.kill("SIGINT");
      });
      expect(output).toContain("SIGINT: revoking this run's key and stopping");
      expect(code).toBe(130);
      const keys = await db.apiKey.findMany({ where: { name: "npm run demo", createdAt: { gte: before } } });
      expect(keys).toHaveLength(1);
      expect(keys[0].revokedAt).not.toBeNull();
    },
    CHILD_PROCESS_TEST_MS,
  );

  it(
    "says to start the system first when no API answers, and exits 1",
    async () => {
      const closed = await freePort();
      const { code, output } = await runDemo({ ...env, CLOSER_URL: `http://127.0.0.1:${closed}/graphql` });
      expect(output).toContain(`The API at http://127.0.0.1:${closed}/graphql is not ready`);
      expect(output).toContain("npm start");
      expect(code).toBe(1);
    },
    CHILD_PROCESS_TEST_MS,
  );
});
