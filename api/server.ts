import "dotenv/config";
import { buildApp } from "./app";
import { ConfigError, applyHeapTuning, loadConfig } from "./config";

/**
 * Starts the service: validated config, listen, and a graceful close on SIGINT/SIGTERM that lets
 * plugins finish in-flight work (the outbox flushes, the indexer checkpoints) before exit.
 */
async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`error CONFIG_INVALID: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  applyHeapTuning(config.env);
  const app = await buildApp(config);
  let closing = false;
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "closing");
    const timer = setTimeout(() => {
      app.log.error("graceful close took longer than 20 s; exiting");
      process.exit(1);
    }, 20_000);
    timer.unref();
    await app.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void close("SIGINT"));
  process.on("SIGTERM", () => void close("SIGTERM"));
  try {
    await app.listen({ host: config.env.HOST, port: config.env.PORT });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE") {
      console.error(`error PORT_IN_USE: ${config.env.HOST}:${config.env.PORT} is already in use — stop the other process or set PORT in .env`);
      process.exit(2);
    }
    throw err;
  }
}

void main();
