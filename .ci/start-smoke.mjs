#!/usr/bin/env node
// CI: the README's first commands on a fresh clone, before anything else has compiled.
// `npm start` must reach ready (contracts deployed, /ready = 200, a verification answered),
// `npm run demo` must succeed through the relay and leave the portal saying what it says, and
// SIGINT must stop everything and free the ports. Each step prints ok or what broke; plain
// JavaScript so that nothing needs compiling before `npm start` does.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const RPC_PORT = Number(process.env.RPC_PORT || 8545);
const PORT = Number(process.env.PORT || 8080);
const base = `http://127.0.0.1:${PORT}`;
const started = Date.now();
const secs = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

const portOpen = (port) =>
  new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

let out = "";
let start;
const tail = (text, n = 40) => text.trimEnd().split("\n").slice(-n).map((l) => `    | ${l}`).join("\n");

function fail(step, why, output = out) {
  console.log(`start-smoke: FAILED at "${step}": ${why}`);
  if (output) console.log(`  last lines of the output:\n${tail(output)}`);
  if (start && start.exitCode === null) {
    try {
      process.kill(-start.pid, "SIGKILL");
    } catch {}
  }
  process.exit(1);
}
const ok = (step, detail = "") => console.log(`start-smoke: ok   ${step}${detail ? ` (${detail})` : ""} [${secs()}]`);

async function rpc(method, params) {
  const res = await fetch(`http://127.0.0.1:${RPC_PORT}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  return (await res.json()).result;
}

function run(cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: process.env });
    let text = "";
    child.stdout.on("data", (d) => (text += d));
    child.stderr.on("data", (d) => (text += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code, signal) => (clearTimeout(timer), resolve({ code, signal, text })));
  });
}

// ── 0. A clean start ──
for (const port of [RPC_PORT, PORT]) if (await portOpen(port)) fail("free ports", `127.0.0.1:${port} is already in use`, "");
const generated = ["artifacts", "typechain-types"].filter((d) => fs.existsSync(path.join(root, d)));
console.log(`start-smoke: ${generated.length ? `note: ${generated.join(", ")} already present (not a fresh clone)` : "fresh clone: no artifacts/ or typechain-types/"}`);

// ── 1. npm start reaches ready ──
// Its own process group, so SIGINT reaches npm, the script and the node as Ctrl-C in a terminal does.
start = spawn("npm", ["start"], { cwd: root, detached: true, env: { ...process.env, RPC_PORT: String(RPC_PORT), PORT: String(PORT) } });
start.stdout.on("data", (d) => (out += d));
start.stderr.on("data", (d) => (out += d));
const exited = new Promise((resolve) => start.on("exit", (code, signal) => resolve({ code, signal })));
const readyBy = Date.now() + 240_000;
while (!/ready in [\d.]+s/.test(out)) {
  if (start.exitCode !== null) fail("npm start reaches ready", `npm start exited with code ${start.exitCode} before it was ready`);
  if (Date.now() > readyBy) fail("npm start reaches ready", "not ready within 240 s");
  await new Promise((r) => setTimeout(r, 250));
}
ok("npm start reaches ready", /ready in ([\d.]+s)/.exec(out)[1]);

// ── 2. The contracts are deployed ──
let keys;
try {
  keys = JSON.parse(fs.readFileSync(path.join(root, ".local", "dev-keys.json"), "utf8"));
} catch (err) {
  fail("contracts deployed", `.local/dev-keys.json is not readable: ${err.message}`);
}
for (const [name, address] of Object.entries(keys.contracts ?? {})) {
  const code = await rpc("eth_getCode", [address, "latest"]).catch((err) => fail("contracts deployed", `the node does not answer: ${err.message}`));
  if (!code || code === "0x") fail("contracts deployed", `${name} at ${address} has no code`);
}
ok("contracts deployed", Object.keys(keys.contracts).join(", "));

// ── 3. The service is ready ──
const ready = await fetch(`${base}/ready`).catch((err) => fail("/ready = 200", err.message));
if (ready.status !== 200) fail("/ready = 200", `/ready answered ${ready.status}: ${await ready.text()}`);
ok("/ready = 200");

// ── 4. A verification request is answered ──
const verify = async (code) => {
  const res = await fetch(`${base}/v1/verify/scan?code=${encodeURIComponent(code)}`, { headers: { accept: "application/json" } });
  return { status: res.status, body: await res.json() };
};
const probe = await verify("(01)09506000134352(17)301231(10)CI-SMOKE(21)PACK-0001");
if (probe.status !== 200 || typeof probe.body.verdict !== "string") fail("a verification request is answered", `${probe.status} ${JSON.stringify(probe.body)}`);
ok("a verification request is answered", `an unregistered lot: ${probe.body.verdict}`);

// ── 5. npm run demo succeeds through the relay ──
const demo = await run("npm", ["run", "demo"], 240_000);
if (demo.code !== 0) fail("npm run demo succeeds", `exit ${demo.code ?? demo.signal}`, demo.text);
const relayed = /(\d+) requests went through the relay \((\d+) signed by their members, (\d+) with the pharmacy's API key\)/.exec(demo.text);
if (!relayed || relayed[2] === "0" || relayed[3] === "0") fail("npm run demo succeeds", "the demo did not report signed and custodial requests through the relay", demo.text);
ok("npm run demo succeeds through the relay", `${relayed[1]} requests: ${relayed[2]} signed, ${relayed[3]} custodial`);

// ── 6. The portal says what the demo says ──
const said = [
  ...demo.text.matchAll(/(a pack the pharmacy dispensed, then recalled|a pack still at the producer, recalled with its batch): (\S+)\n\s+→ "([^"]+)"(?:, dispensed on (\S+))?/g),
];
if (said.length !== 2) fail("the portal says what the demo says", "the demo printed no portal hints", demo.text);
for (const [, what, code, headline, dispensedOn] of said) {
  const v = await verify(code);
  if (v.status !== 200 || v.body.verdict !== "recalled" || v.body.headline !== headline || (v.body.dispensedOn ?? undefined) !== dispensedOn || v.body.expiryNote !== null) {
    fail("the portal says what the demo says", `${what} ${code}: the demo says "${headline}"${dispensedOn ? `, dispensed on ${dispensedOn}` : ""}, the service ${JSON.stringify(v.body)}`, demo.text);
  }
}
if (!said[0][4]) fail("the portal says what the demo says", "the dispensed pack is not reported as dispensed", demo.text);
ok("the portal says what the demo says", "the dispensed pack: recalled and dispensed; an untouched pack: recalled");

// ── 7. SIGINT stops everything ──
process.kill(-start.pid, "SIGINT");
const stopTimer = setTimeout(() => fail("SIGINT stops everything", "npm start still runs 30 s after SIGINT"), 30_000);
const end = await exited;
clearTimeout(stopTimer);
if (!/stopped/.test(out)) fail("SIGINT stops everything", `npm start ended (${end.code ?? end.signal}) without shutting down`);
await new Promise((r) => setTimeout(r, 500));
for (const port of [RPC_PORT, PORT]) if (await portOpen(port)) fail("SIGINT stops everything", `127.0.0.1:${port} is still open`);
ok("SIGINT stops everything; ports closed", `${RPC_PORT}, ${PORT}`);
console.log(`start-smoke: passed in ${secs()}`);
