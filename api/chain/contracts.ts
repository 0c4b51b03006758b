import type { ContractRunner } from "ethers";
import {
  BatchToken__factory,
  ConsortiumForwarder__factory,
  Consortium__factory,
  type BatchToken,
  type Consortium,
  type ConsortiumForwarder,
} from "../../typechain-types";
import type { SystemAddresses } from "./addresses";

export interface SystemContractSet {
  forwarder: ConsortiumForwarder;
  consortium: Consortium;
  batchToken: BatchToken;
}

/** The three deployed contracts, typed, at `addresses`, for `runner` (a provider or a signer). */
export function connectSystem(addresses: SystemAddresses, runner: ContractRunner): SystemContractSet {
  return {
    forwarder: ConsortiumForwarder__factory.connect(addresses.forwarder, runner),
    consortium: Consortium__factory.connect(addresses.consortium, runner),
    batchToken: BatchToken__factory.connect(addresses.batchToken, runner),
  };
}
