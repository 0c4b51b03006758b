import fs from "node:fs";
import path from "node:path";

/**
 * The repository's root: the nearest directory above this file with a package.json, so that the
 * sources (api/chain) and the compiled service (dist/api/chain, npm run build) find the same
 * artifacts, deployments, data and portal files.
 */
export const REPO_ROOT = (() => {
  for (let dir = path.resolve(__dirname, "..", ".."); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, "..", "..");
  }
})();

/** Addresses of the deployed System module. */
export interface SystemAddresses {
  forwarder: string;
  consortium: string;
  batchToken: string;
}

export function deploymentDir(deploymentId: string): string {
  return path.join(REPO_ROOT, "ignition", "deployments", deploymentId);
}

/** Reads the System addresses from an Ignition deployment's deployed_addresses.json, if present. */
export function readDeploymentAddresses(deploymentId: string): SystemAddresses | undefined {
  const file = path.join(deploymentDir(deploymentId), "deployed_addresses.json");
  if (!fs.existsSync(file)) return undefined;
  const a = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
  const forwarder = a["Forwarder#ConsortiumForwarder"];
  const consortium = a["Consortium#Consortium"];
  const batchToken = a["BatchToken#BatchToken"];
  if (!forwarder || !consortium || !batchToken) return undefined;
  return { forwarder, consortium, batchToken };
}
