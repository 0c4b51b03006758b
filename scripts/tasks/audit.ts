import fs from "node:fs";
import { task } from "hardhat/config";
import { HardhatPluginError } from "hardhat/plugins";
import { JsonRpcProvider, isAddress } from "ethers";
import { UserError } from "../lib/errors";

// Definitions only: helpers that need compiled artifacts load inside the actions (after
// compiling when needed), so `hardhat compile` works on a fresh clone.
import { common } from "./load";

/**
 * Read-side tasks: the integrity audit, and the producer's serial-list upload to the read service.
 *
 * `npx hardhat audit:check --network <net>`: rebuilds every batch's balances from the ledger's
 * events alone (the pure custody reducer) and compares them with on-chain balanceOf for every
 * holder ever seen, with the pending shipments, the batch status and the batch count. With
 * `--index <file>` it audits the read service's SQLite index instead of the chain's logs (its
 * events and its derived tables). Any divergence is printed precisely and the task fails, so the
 * process exits non-zero.
 */
task(
  "audit:check",
  "Rebuilds every batch's custody from events alone and compares it with on-chain state",
)
  .addOptionalParam(
    "index",
    "Audit this read-service index (SQLite file) instead of reading the chain's logs",
  )
  .addOptionalParam(
    "fromBlock",
    "First block to read logs from (the BatchToken deployment block)",
    "0",
  )
  .addOptionalParam("rangeBlocks", "Blocks per eth_getLogs call", "5000")
  .addOptionalParam(
    "rpcUrl",
    "Audit the node at this JSON-RPC URL instead of the network's (needs --batch-token)",
  )
  .addOptionalParam(
    "batchToken",
    "BatchToken address (default: the network's Ignition deployment)",
  )
  .addFlag("json", "Print the report as JSON")
  .setAction(
    async (
      args: {
        index?: string;
        fromBlock: string;
        rangeBlocks: string;
        rpcUrl?: string;
        batchToken?: string;
        json: boolean;
      },
      hre,
    ) =>
      (await common(hre)).taskBody(async () => {
        // Loaded here, not at config time: they need the compiled typechain types.
        const { BatchToken__factory } = await import("../../typechain-types");
        const { auditLedger } = await import("../../api/read/audit");
        const { JsonRpcClient, readLedgerRange } =
          await import("../../api/read/chain-reader");
        const { IndexStore } = await import("../../api/read/store");
        const { loadSystem } = await import("../lib/deployment");

        let provider: JsonRpcProvider | typeof hre.ethers.provider;
        let tokenAddress: string;
        // Logs are read with the read side's own JSON-RPC client when the node has a URL (fast on large answers).
        const url = args.rpcUrl ?? (hre.network.config as { url?: string }).url;
        if (args.rpcUrl) {
          if (!args.batchToken || !isAddress(args.batchToken))
            throw new UserError(
              "MISSING_BATCH_TOKEN",
              "--rpc-url needs --batch-token <address>",
              "pass the BatchToken address of that chain",
            );
          provider = new JsonRpcProvider(args.rpcUrl, undefined, {
            staticNetwork: true,
          });
          tokenAddress = args.batchToken;
        } else {
          provider = hre.ethers.provider;
          tokenAddress =
            args.batchToken ?? (await loadSystem(hre)).addresses.batchToken;
        }
        const batchToken = BatchToken__factory.connect(tokenAddress, provider);
        const fromBlock = Number(args.fromBlock);
        const range = Number(args.rangeBlocks);
        if (
          !Number.isInteger(fromBlock) ||
          fromBlock < 0 ||
          !Number.isInteger(range) ||
          range < 1
        ) {
          throw new UserError(
            "BAD_NUMBER",
            "--from-block and --range-blocks must be whole numbers (range ≥ 1)",
            "e.g. --from-block 0 --range-blocks 5000",
          );
        }

        let report;
        const started = Date.now();
        if (args.index) {
          if (!fs.existsSync(args.index))
            throw new UserError(
              "NO_INDEX",
              `no index file at ${args.index}`,
              "give the SQLite file of the read service (DATA_DIR/INDEXER_DB_FILE)",
            );
          const store = new IndexStore(args.index);
          try {
            const cp = store.checkpoint();
            if (!cp)
              throw new UserError(
                "EMPTY_INDEX",
                `the index ${args.index} has not read any block yet`,
                "start the service and let the indexer catch up",
              );
            if (store.meta("batchToken") !== tokenAddress.toLowerCase()) {
              throw new UserError(
                "INDEX_OF_OTHER_CHAIN",
                `the index belongs to BatchToken ${store.meta("batchToken")}, not ${tokenAddress}`,
                "audit it against the network it indexes",
              );
            }
            report = await auditLedger({
              events: store.allEvents(),
              batchToken,
              atBlock: cp.block,
              index: {
                balances: store.allBalances(),
                pending: store.allPending(),
              },
            });
          } finally {
            store.close();
          }
        } else {
          const reader = url ? new JsonRpcClient(url, 120_000) : provider;
          const head = Number(await reader.send("eth_blockNumber", []));
          const events = [];
          for (let from = fromBlock; from <= head; from += range)
            events.push(
              ...(await readLedgerRange(
                reader,
                tokenAddress,
                from,
                Math.min(from + range - 1, head),
              )),
            );
          report = await auditLedger({ events, batchToken, atBlock: head });
        }
        if (provider instanceof JsonRpcProvider) provider.destroy();

        if (args.json) console.log(JSON.stringify(report, null, 2));
        else {
          console.log(
            `audited ${report.batches} batches, ${report.events} events, ${report.holdersChecked} (holder, batch) balances and ${report.pendingChecked} pending shipments at block ${report.atBlock} (${args.index ? `index ${args.index}` : "chain logs"}) in ${Date.now() - started} ms`,
          );
          for (const d of report.divergences)
            console.log(
              `  DIVERGENCE ${d.kind} batch ${d.batchId}${d.holder ? ` holder ${d.holder}` : ""}${d.shipmentId ? ` shipment ${d.shipmentId}` : ""}: events ${d.fromEvents}, actual ${d.actual} — ${d.detail}`,
            );
        }
        if (!report.ok) {
          throw new HardhatPluginError(
            "medtrace",
            `error AUDIT_DIVERGENCE: ${report.divergences.length} divergence(s) between the events and on-chain state — see the lines above`,
          );
        }
        if (!args.json)
          console.log(
            "ok: every balance rebuilt from events matches the chain",
          );
        return report;
      }),
  );

/**
 * `npx hardhat read:upload-serials --network localnode --gtin … --lot … --serials list.json`: the
 * producer signs the upload message (EIP-191) and sends its batch's serial list to the read
 * service, which checks it against the on-chain root; afterwards the portal can verify each pack.
 */
task(
  "read:upload-serials",
  "Uploads a batch's serial list to the read service, signed by the batch's producer",
)
  .addOptionalParam("batch", "Batch id")
  .addOptionalParam("gtin", "GTIN (with --lot)")
  .addOptionalParam("lot", "Lot (with --gtin)")
  .addParam(
    "serials",
    "The serial list the batch was minted from (.json array or .csv)",
  )
  .addOptionalParam(
    "as",
    "Producer account (name, index or address)",
    "producer",
  )
  .addOptionalParam(
    "url",
    "Base URL of the read service",
    process.env.READ_SERVICE_URL ||
      `http://127.0.0.1:${process.env.PORT || "8080"}`,
  )
  .setAction(
    async (
      args: {
        batch?: string;
        gtin?: string;
        lot?: string;
        serials: string;
        as: string;
        url: string;
      },
      hre,
    ) =>
      (await common(hre)).taskBody(async () => {
        const { buildSerialTree } = await import("../../api/domain/merkle");
        const { serialUploadMessage } =
          await import("../../api/read/verification");
        const sys = await (await common(hre)).system(hre);
        const batchId = await (await common(hre)).resolveBatch(sys, args);
        const serials = (await common(hre)).readSerialFile(args.serials);
        const tree = buildSerialTree(serials);
        const signer = await (await common(hre)).actor(hre, args.as);
        const message = serialUploadMessage({
          chainId: sys.chainId,
          batchToken: sys.addresses.batchToken,
          batchId,
          root: tree.root,
          count: tree.count,
        });
        const signature = await signer.signMessage(message);
        let res: Response;
        try {
          res = await fetch(
            `${args.url.replace(/\/+$/, "")}/v1/batches/${batchId}/serials`,
            {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ serials, signature }),
            },
          );
        } catch (err) {
          throw new UserError(
            "SERVICE_UNREACHABLE",
            `no read service at ${args.url} (${(err as Error).message})`,
            "start it (npm start) or pass --url",
          );
        }
        const body = (await res.json()) as {
          error?: { code: string; message: string; hint?: string };
          count?: number;
          root?: string;
        };
        if (res.status !== 201)
          throw new UserError(
            body.error?.code ?? `HTTP_${res.status}`,
            body.error?.message ?? `the service answered ${res.status}`,
            body.error?.hint,
          );
        console.log(
          `uploaded ${body.count} serials of batch ${batchId} (root ${body.root}), signed by ${signer.address}`,
        );
      }),
  );
