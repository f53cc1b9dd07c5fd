// `npm start`: applies migrations, then runs the API and the worker side by side, stopping both
// when either stops or on Ctrl-C / SIGTERM (each drains its own work first).
import { type ChildProcess, spawn } from "node:child_process";
import { migrate } from "./migrate.js";

await migrate();

function run(name: string, entry: string): ChildProcess {
  // tsx as a loader keeps each part one process, so signals reach it directly.
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    stdio: "inherit",
    env: { ...process.env, CLOSER_PROCESS: name },
  });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping Closer`);
      stop(code ?? 1);
    }
  });
  return child;
}

let stopping = false;
const children = [run("closer-api", "src/server.ts"), run("closer-worker", "worker/main.ts")];

function stop(exitCode: number) {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null))).then(() =>
    process.exit(exitCode),
  );
}

process.once("SIGINT", () => stop(0));
process.once("SIGTERM", () => stop(0));
