import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether a TCP port of 127.0.0.1 can be listened on now. */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Test timeout for a test that starts a child process of Closer. */
export const CHILD_PROCESS_TEST_MS = 90_000;

/** Runs one of Closer's process entries (src/server.ts, worker/main.ts) as a child, as `npm start` does. */
export function startProcess(entry: string, env: Record<string, string>): ChildProcess {
  // One process (tsx as a loader, not its CLI wrapper), so a signal reaches Closer itself.
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return child;
}

/** Stops a child with SIGTERM, as `npm start` would, and with SIGKILL if it has not exited after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Waits for a child process to serve; a loaded 2-core machine can take many seconds to start one. */
export async function waitForHttp(url: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () => ((await fetch(url).catch(() => null))?.ok ? true : undefined),
    timeoutMs,
    `${url} answering`,
    100,
  );
}

/**
 * Polls until the check returns a value other than undefined, and answers it; fails after the
 * timeout. Every test that waits for something to happen waits with this.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = "condition",
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
