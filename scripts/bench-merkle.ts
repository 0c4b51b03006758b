/**
 * Benchmark of the serial Merkle builder (api/domain/merkle.ts) vs @openzeppelin/merkle-tree.
 *
 *   npx ts-node scripts/bench-merkle.ts                 # n = 1,000,000 + OZ comparison at 100,000
 *   BENCH_MERKLE_N=200000 BENCH_MERKLE_OZ_N=0 npx ts-node scripts/bench-merkle.ts
 *
 * Every case runs in its own child process (`node -r ts-node/register ...`) so that peak RSS
 * (getrusage maxrss) belongs to that case alone. Peak RSS includes the Node + ts-node
 * baseline and the generated serial list itself; the baseline is reported separately.
 * Writes bench-results/merkle.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

interface CaseResult {
  impl: 'merkle.ts' | '@openzeppelin/merkle-tree';
  n: number;
  buildSeconds: number;
  peakRssMB: number;
  baselineRssMB: number;
  rssBeforeBuildMB: number;
  proofMicros: number;
  proofSamples: number;
  root: string;
}

const CHARSET = '!"%&\'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';

/** Deterministic unique CSET-82 serials, 8..20 chars: random prefix + base-36 counter. */
function makeSerials(n: number, seed = 0x5eed): string[] {
  let x = seed >>> 0;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const counter = i.toString(36).toUpperCase().padStart(7, '0');
    let prefix = '';
    const plen = 1 + Math.floor(rnd() * 12); // total 8..20
    for (let k = 0; k < plen; k++) prefix += CHARSET[Math.floor(rnd() * CHARSET.length)];
    out[i] = prefix + counter;
  }
  return out;
}

const mb = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;
const peakRss = (): number => process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB

function runCase(impl: CaseResult['impl'], n: number): CaseResult {
  const baselineRss = peakRss();
  const serials = makeSerials(n);
  const rssBeforeBuild = process.memoryUsage().rss;
  const rnd = (() => {
    let s = 12345;
    return () => (s = (s * 1103515245 + 12345) >>> 0) % n;
  })();

  if (impl === 'merkle.ts') {
    const { buildSerialTree } = require('../api/domain/merkle') as typeof import('../api/domain/merkle');
    const t0 = process.hrtime.bigint();
    const tree = buildSerialTree(serials);
    const buildSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const samples = 20000;
    const t1 = process.hrtime.bigint();
    let sink = 0;
    for (let i = 0; i < samples; i++) sink += tree.proof(rnd()).length;
    const proofMicros = Number(process.hrtime.bigint() - t1) / 1e3 / samples;
    if (sink === 0 && n > 1) throw new Error('unexpected empty proofs');
    return {
      impl, n, buildSeconds, proofMicros, proofSamples: samples, root: tree.root,
      peakRssMB: mb(peakRss()), baselineRssMB: mb(baselineRss), rssBeforeBuildMB: mb(rssBeforeBuild),
    };
  }

  const { StandardMerkleTree } = require('@openzeppelin/merkle-tree') as typeof import('@openzeppelin/merkle-tree');
  const t0 = process.hrtime.bigint();
  const tree = StandardMerkleTree.of(
    serials.map((s, i) => [i, s]),
    ['uint256', 'string'],
  );
  const buildSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const samples = 1000;
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < samples; i++) tree.getProof(rnd());
  const proofMicros = Number(process.hrtime.bigint() - t1) / 1e3 / samples;
  return {
    impl, n, buildSeconds, proofMicros, proofSamples: samples, root: tree.root,
    peakRssMB: mb(peakRss()), baselineRssMB: mb(baselineRss), rssBeforeBuildMB: mb(rssBeforeBuild),
  };
}

function spawnCase(impl: CaseResult['impl'], n: number): CaseResult {
  const res = spawnSync(process.execPath, ['-r', 'ts-node/register', __filename], {
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', BENCH_MERKLE_CHILD: JSON.stringify({ impl, n }) },
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (res.status !== 0) {
    throw new Error(`bench case ${impl} n=${n} failed (status ${res.status}):\n${res.stderr}`);
  }
  const line = res.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as CaseResult;
}

function envInt(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return v;
}

function main(): void {
  const child = process.env.BENCH_MERKLE_CHILD;
  if (child) {
    const { impl, n } = JSON.parse(child) as { impl: CaseResult['impl']; n: number };
    process.stdout.write(JSON.stringify(runCase(impl, n)) + '\n');
    return;
  }

  const n = envInt('BENCH_MERKLE_N', 1_000_000);
  const ozN = envInt('BENCH_MERKLE_OZ_N', 100_000);
  if (n < 1) throw new Error('BENCH_MERKLE_N must be >= 1');

  const results: CaseResult[] = [];
  const run = (impl: CaseResult['impl'], size: number): void => {
    process.stderr.write(`running ${impl} n=${size} ...\n`);
    results.push(spawnCase(impl, size));
  };
  if (ozN > 0) {
    run('merkle.ts', ozN);
    run('@openzeppelin/merkle-tree', ozN);
  }
  if (ozN !== n || ozN === 0) run('merkle.ts', n);

  let rootsMatch: boolean | null = null;
  if (ozN > 0) {
    const [ours, oz] = [results[0], results[1]];
    rootsMatch = ours !== undefined && oz !== undefined && ours.root === oz.root;
  }

  console.table(
    results.map((r) => ({
      impl: r.impl,
      n: r.n,
      'build s': Number(r.buildSeconds.toFixed(2)),
      'peak RSS MB': r.peakRssMB,
      'baseline RSS MB': r.baselineRssMB,
      'RSS before build MB': r.rssBeforeBuildMB,
      'proof µs': Number(r.proofMicros.toFixed(1)),
    })),
  );
  if (rootsMatch !== null) console.log(`roots equal at n=${ozN}: ${rootsMatch}`);

  const outDir = path.join(__dirname, '..', 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, 'merkle.json');
  writeFileSync(
    outFile,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        totalMemMB: mb(os.totalmem()),
        method:
          'each case in its own child process (node -r ts-node/register, transpile-only); build = wall time of buildSerialTree / StandardMerkleTree.of; peak RSS = getrusage maxrss of that process (includes Node/ts-node baseline and the generated serial list); proof = mean wall time of proof(i) over random i',
        rootsMatch,
        results,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${path.relative(process.cwd(), outFile)}`);
  if (rootsMatch === false) process.exitCode = 1;
}

main();
