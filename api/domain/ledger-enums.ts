/**
 * The contracts' enums by index, in one place: IConsortium.Role, MemberStatus and ProposalState,
 * IBatchToken BatchStatus, ProductStatus, ShipmentKind, RejectReason, LossReason and UnitVerdict
 * (PackState and ItemKind live beside the pack ledger: api/domain/pack-ledger.ts, packing.ts). The ABI carries them as uint8, so every
 * reader (relay, read side, tasks, demo) names them from here; a test checks the lengths against
 * the Solidity sources.
 */
export const ROLE_NAMES = ["None", "Producer", "Distributor", "Pharmacy", "Regulator", "Auditor"] as const;
export const ROLE = { None: 0, Producer: 1, Distributor: 2, Pharmacy: 3, Regulator: 4, Auditor: 5 } as const;
export const MEMBER_STATUS_NAMES = ["None", "Active", "Suspended", "Revoked"] as const;
export const BATCH_STATUS_NAMES = ["None", "Active", "Quarantined", "Recalled"] as const;
export const REJECT_REASONS = [
  "Unspecified",
  "Damaged",
  "WrongProduct",
  "WrongQuantity",
  "TemperatureExcursion",
  "SuspectProduct",
  "NotOrdered",
] as const;
export const LOSS_REASONS = ["Destroyed", "Stolen"] as const;
export const UNIT_VERDICTS = [
  "Genuine",
  "Dispensed",
  "Recalled",
  "Quarantined",
  "Expired",
  "UnknownBatch",
  "NotInBatch",
  "ExpiryMismatch",
  "Destroyed",
  "Stolen",
  "Sample",
  "FreeSample",
  "Exported",
  "Locked",
  "InTransit",
  "Withdrawn",
] as const;
export const PRODUCT_STATUS_NAMES = ["None", "Active", "Withdrawn"] as const;
export const SHIPMENT_KIND_NAMES = ["Forward", "Return"] as const;
export const PROPOSAL_STATE_NAMES = ["None", "Open", "Executed", "Cancelled", "Expired"] as const;

export type RoleName = (typeof ROLE_NAMES)[number];
