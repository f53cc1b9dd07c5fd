import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { ReceivedRequest } from "../../scripts/sinks.js";

const schedulerModule = fileURLToPath(new URL("../../src/delivery/scheduler.ts", import.meta.url));

export type SchedulerProcess = {
  child: ChildProcess;
  /** Everything it printed (stdout and stderr), for checking its logs. */
  output: string[];
  /** SIGTERM (it finishes its sends in flight), SIGKILL after 15 s; resolves once its output is read. */
  stop(): Promise<void>;
};

/**
 * A child process running startScheduler as the worker does, with `options` and `env` on top of
 * this process's environment (LOG_LEVEL warn unless given). Resolves once it runs.
 */
export function startSchedulerProcess(
  options: { intervalMs: number; batchSize: number; concurrency?: number },
  env: Record<string, string> = {},
): Promise<SchedulerProcess> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `const { startScheduler } = await import(${JSON.stringify(schedulerModule)});
       const scheduler = startScheduler(${JSON.stringify(options)});
       process.once("SIGTERM", async () => { await scheduler.stop(); process.exit(0); });
       console.log("ready");`,
    ],
    { env: { ...process.env, LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const output: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const stop = () =>
    child.exitCode === null && child.signalCode === null
      ? new Promise<void>((resolve) => {
          // "close", not "exit": its output is all read by then.
          child.once("close", () => resolve());
          child.kill("SIGTERM");
          setTimeout(() => child.kill("SIGKILL"), 15_000).unref();
        })
      : Promise.resolve();
  return new Promise((resolve, reject) => {
    child.once("exit", (code) =>
      reject(new Error(`scheduler exited with ${code} before it was ready:\n${output.join("")}`)),
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.join("").includes("ready")) resolve({ child, output, stop });
    });
  });
}

/** Which of the named signing secrets signed a webhook request (X-Closer-Signature), or null. */
export function signerOf<Name extends string>(request: ReceivedRequest, secrets: Record<Name, string>): Name | null {
  const signed = `${request.headers["x-closer-timestamp"]}.${request.body}`;
  const signature = request.headers["x-closer-signature"];
  for (const [name, secret] of Object.entries(secrets) as [Name, string][]) {
    if (signature === `sha256=${createHmac("sha256", secret).update(signed).digest("hex")}`) return name;
  }
  return null;
}
