import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { ensureCompiled } from "../lib/compile";

/**
 * The tasks' shared helpers, loaded inside a task's action after the contracts are compiled: the
 * helpers import the typechain types, which a fresh clone does not have until its first compile.
 * Task definitions themselves import nothing that needs compiled output, so `hardhat compile`
 * and `hardhat help` work on a fresh clone too.
 */
export async function common(
  hre: HardhatRuntimeEnvironment,
): Promise<typeof import("./common")> {
  await ensureCompiled(hre, (line) => console.error(line));
  return import("./common");
}
