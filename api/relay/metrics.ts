import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Outbox } from "./outbox";
import type { LaneState } from "./submitter";

/** Prometheus metrics of the write side, registered on the service registry (GET /metrics). */
export interface RelayMetrics {
  accepted: Counter<"mode">;
  rejected: Counter<"code">;
  finished: Counter<"outcome">;
  reverts: Counter<"error" | "stage">;
  batchSize: Histogram<string>;
  submitLatency: Histogram<string>;
  acceptToMined: Histogram<string>;
  verifyDuration: Histogram<string>;
  simulationDuration: Histogram<string>;
  nonceLag: Gauge<"relayer">;
}

export function createRelayMetrics(registry: Registry, outbox: Outbox): RelayMetrics {
  new Gauge({
    name: "medtrace_relay_queue_depth",
    help: "Requests in the outbox by state (queued, submitted, mined, failed)",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      for (const [state, n] of Object.entries(outbox.counts())) this.set({ state }, n);
    },
  });
  return {
    accepted: new Counter({ name: "medtrace_relay_accepted_total", help: "Requests accepted (202)", labelNames: ["mode"], registers: [registry] }),
    rejected: new Counter({ name: "medtrace_relay_rejected_total", help: "Requests refused at intake, by error code", labelNames: ["code"], registers: [registry] }),
    finished: new Counter({ name: "medtrace_relay_finished_total", help: "Requests that reached a final state, by outcome", labelNames: ["outcome"], registers: [registry] }),
    reverts: new Counter({
      name: "medtrace_relay_reverts_total",
      help: "Contract reverts by decoded error name, at intake simulation or on chain",
      labelNames: ["error", "stage"],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: "medtrace_relay_batch_size",
      help: "Forward requests per executeBatch transaction",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers: [registry],
    }),
    submitLatency: new Histogram({
      name: "medtrace_relay_submit_latency_seconds",
      help: "Duration of eth_sendRawTransaction for a batch",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    acceptToMined: new Histogram({
      name: "medtrace_relay_accept_to_mined_seconds",
      help: "Time from the 202 answer to the receipt of the transaction that executed the request",
      buckets: [0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60],
      registers: [registry],
    }),
    verifyDuration: new Histogram({
      name: "medtrace_relay_verify_seconds",
      help: "Time to verify one request (signature, membership, nonce, simulation)",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    simulationDuration: new Histogram({
      name: "medtrace_relay_simulation_seconds",
      help: "Time from asking the node to simulate a request to its answer (requests of one event-loop turn share one eth_call)",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    nonceLag: new Gauge({
      name: "medtrace_relay_nonce_lag",
      help: "Per relayer key: next local nonce minus the chain's mined nonce (transactions not yet mined)",
      labelNames: ["relayer"],
      registers: [registry],
    }),
  };
}

/**
 * Per-lane gauges, read from the submitter when scraped: a lane that stops moving shows as
 * medtrace_relay_lane_stalled 1 with how long its ready requests (ready_wait_seconds) or its
 * oldest unmined transaction (oldest_inflight_seconds) have waited; gapped_signers counts members
 * whose queued requests wait behind a nonce gap (they hold back only themselves).
 */
export function registerLaneMetrics(registry: Registry, outbox: Outbox, lanes: () => LaneState[]) {
  const gauge = (name: string, help: string, value: (s: LaneState, queued: Map<number, number>) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["lane", "relayer"],
      registers: [registry],
      collect() {
        const queued = name === "medtrace_relay_lane_queued" ? outbox.queuedPerLane() : new Map<number, number>();
        for (const s of lanes()) this.set({ lane: String(s.index), relayer: s.relayer }, value(s, queued));
      },
    });
  gauge("medtrace_relay_lane_stalled", "1 when the lane's ready requests or oldest unmined transaction waited longer than RELAY_STALL_MS", (s) => (s.stalled ? 1 : 0));
  gauge("medtrace_relay_lane_ready_wait_seconds", "How long requests the lane could send have waited unsent", (s) => s.readyWaitMs / 1000);
  gauge("medtrace_relay_lane_oldest_inflight_seconds", "Age of the lane's oldest sent and unmined transaction", (s) => s.oldestInflightMs / 1000);
  gauge("medtrace_relay_lane_inflight_transactions", "Transactions the lane has sent and not yet seen mined", (s) => s.inflight);
  gauge("medtrace_relay_lane_gapped_signers", "Signers on the lane whose queued requests wait behind a nonce gap", (s) => s.gappedSigners);
  gauge("medtrace_relay_lane_queued", "Queued requests assigned to the lane (gapped ones included)", (s, queued) => queued.get(s.index) ?? 0);
}

/** Entries of each per-address map of the relay: they must stay bounded, whoever signs requests. */
export function registerCacheMetrics(registry: Registry, caches: () => Record<string, number>) {
  new Gauge({
    name: "medtrace_relay_cache_entries",
    help: "Entries of the relay's per-address state (roles, nonces, rate-limit buckets, lane pins), each bounded by RELAY_ADDRESS_CACHE_SIZE",
    labelNames: ["cache"],
    registers: [registry],
    collect() {
      for (const [cache, n] of Object.entries(caches())) this.set({ cache }, n);
    },
  });
}
