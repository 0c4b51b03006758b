import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import * as enums from "../../api/domain/ledger-enums";
import { PACK_STATE_NAMES } from "../../api/domain/pack-ledger";
import { ITEM_KIND_NAMES } from "../../api/domain/packing";

/** Member names of `enum Name { … }` in a Solidity source, in order. */
function solidityEnum(file: string, name: string): string[] {
  const source = fs.readFileSync(path.join(__dirname, "..", "..", "contracts", "interfaces", file), "utf8");
  const body = new RegExp(`enum ${name} \\{([^}]*)\\}`).exec(source);
  if (!body) throw new Error(`enum ${name} not found in ${file}`);
  return body[1].split(",").map((m) => m.trim()).filter(Boolean);
}

describe("ledger enum names", function () {
  const cases: [string, string, readonly string[]][] = [
    ["IConsortium.sol", "Role", enums.ROLE_NAMES],
    ["IConsortium.sol", "MemberStatus", enums.MEMBER_STATUS_NAMES],
    ["IBatchToken.sol", "BatchStatus", enums.BATCH_STATUS_NAMES],
    ["IBatchToken.sol", "RejectReason", enums.REJECT_REASONS],
    ["IBatchToken.sol", "LossReason", enums.LOSS_REASONS],
    ["IBatchToken.sol", "UnitVerdict", enums.UNIT_VERDICTS],
    ["IConsortium.sol", "ProposalState", enums.PROPOSAL_STATE_NAMES],
    ["IBatchToken.sol", "ProductStatus", enums.PRODUCT_STATUS_NAMES],
    ["IBatchToken.sol", "ShipmentKind", enums.SHIPMENT_KIND_NAMES],
    ["IBatchToken.sol", "PackState", PACK_STATE_NAMES],
    ["IBatchToken.sol", "ItemKind", ITEM_KIND_NAMES],
  ];
  for (const [file, name, names] of cases) {
    it(`match ${name} in ${file}, member for member`, function () {
      expect([...names]).to.deep.equal(solidityEnum(file, name));
    });
  }

  it("number the roles as the contract does", function () {
    enums.ROLE_NAMES.forEach((n, i) => expect(enums.ROLE[n]).to.equal(i));
  });
});
