/**
 * The Verification Router Service (VRS) responder, pure part — GS1 Lightweight Messaging Standard
 * for Verification of Product Identifiers (DSCSA): the request's parameters, the response body, and
 * the ONE mapping from the ledger's verification verdicts to VRS answers. No Fastify, no I/O.
 *
 * Request: `GET /verify/gtin/{gtin}/lot/{lot}/ser/{serial}?exp=YYMMDD&linkType=verificationService
 *           &context=dscsaSaleableReturn&reqGLN={13 digits}&corrUUID={uuid}`
 * Response (200): `{ verificationTimestamp, responderGLN, data: { verified, verificationFailureReason?,
 *           additionalInfo? }, corrUUID? }`.
 */
import type { Verdict } from '../read/verification';

/**
 * Why a requestor verifies. `dscsaSaleableReturn` is the context of every release of the standard;
 * the investigation contexts are the DSCSA uses the later releases of the guideline added. The
 * responder answers every context the same way except where the mapping below says otherwise.
 */
export const VRS_CONTEXTS = ['dscsaSaleableReturn', 'dscsaSuspectInvestigation', 'dscsaIllegitimateInvestigation'] as const;
export type VrsContext = (typeof VRS_CONTEXTS)[number];

/** The standard's codes for a `verified: false` answer. */
export const VRS_FAILURE_REASONS = [
  'No_match_GTIN_Serial',
  'No_match_GTIN_Serial_Lot_Expiry',
  'No_match_GTIN_Serial_Lot',
  'No_match_GTIN_Serial_Expiry',
  'No_reason_provided',
  'Manufacturer_policy',
  'Not_for_re-distribution',
] as const;
export type VrsFailureReason = (typeof VRS_FAILURE_REASONS)[number];

/** The standard's optional additional information. */
export const VRS_ADDITIONAL_INFO = ['Expired', 'ExpirationExtended', 'Recalled', 'Suspect', 'Illegitimate'] as const;
export type VrsAdditionalInfo = (typeof VRS_ADDITIONAL_INFO)[number];

/**
 * Verdicts the verification logic is being extended with (package-level custody and product-level
 * withdrawal): mapped here already, so the day `Verdict` gains them the responder is right at once.
 * A verdict that is in neither `Verdict` nor this list makes `vrsVerification`'s switch fail to
 * compile — which is the point: every new verdict needs a conscious VRS answer.
 */
export type AnticipatedVerdict = 'stolen' | 'destroyed' | 'sample' | 'free_sample' | 'exported' | 'locked' | 'in_transit' | 'withdrawn';
/** Every verdict the responder can map: today's and the anticipated ones. */
export type VrsMappableVerdict = Verdict | AnticipatedVerdict;

export interface VrsVerificationData {
  verified: boolean;
  verificationFailureReason?: VrsFailureReason;
  additionalInfo?: VrsAdditionalInfo;
}

const ok = (additionalInfo?: VrsAdditionalInfo): VrsVerificationData => (additionalInfo ? { verified: true, additionalInfo } : { verified: true });
const fail = (verificationFailureReason: VrsFailureReason, additionalInfo?: VrsAdditionalInfo): VrsVerificationData =>
  additionalInfo ? { verified: false, verificationFailureReason, additionalInfo } : { verified: false, verificationFailureReason };

/**
 * The VRS answer for a verdict. `verified` says whether the product identifier (GTIN, serial, lot,
 * expiry) is one the manufacturer issued; the pack's state travels in `additionalInfo`, except where
 * the pack must not go back into saleable stock at all (`Not_for_re-distribution`).
 */
export function vrsVerification(verdict: VrsMappableVerdict, context: VrsContext): VrsVerificationData {
  switch (verdict) {
    case 'genuine':
      return ok();
    case 'in_transit':
      return ok();
    case 'expired':
      return ok('Expired');
    case 'recalled':
    case 'withdrawn':
      return ok('Recalled');
    case 'quarantined':
    case 'locked':
      return ok('Suspect');
    case 'dispensed':
      // A dispensed pack offered back as saleable stock is suspect (DSCSA: dispensed product does
      // not return to the supply chain); in an investigation, the identifier itself is genuine.
      return context === 'dscsaSaleableReturn' ? fail('Not_for_re-distribution', 'Suspect') : ok('Suspect');
    case 'stolen':
    case 'destroyed':
      return fail('Not_for_re-distribution', 'Illegitimate');
    case 'sample':
    case 'free_sample':
    case 'exported':
      return fail('Not_for_re-distribution');
    case 'unknown_batch':
      return fail('No_match_GTIN_Serial_Lot');
    case 'not_in_batch':
      return fail('No_match_GTIN_Serial');
    case 'expiry_mismatch':
      return fail('No_match_GTIN_Serial_Expiry');
    case 'serials_unavailable':
      // The batch is known but its serial list is not here: the serial cannot be confirmed.
      return fail('No_reason_provided');
    default:
      return unmapped(verdict);
  }
}

function unmapped(v: never): never {
  throw new Error(`no VRS answer for verdict '${String(v)}'`);
}

export interface VrsResponse {
  verificationTimestamp: string;
  responderGLN: string | null;
  data: VrsVerificationData;
  corrUUID?: string;
}

export function vrsResponse(data: VrsVerificationData, responderGLN: string | null, corrUUID: string | undefined, now = new Date()): VrsResponse {
  return { verificationTimestamp: now.toISOString(), responderGLN, data, ...(corrUUID !== undefined ? { corrUUID } : {}) };
}

export const VRS_LINK_TYPES = ['verificationService', 'gs1:verificationService', 'https://gs1.org/voc/verificationService'] as const;
export const CONNECTIVITY_LINK_TYPES = ['checkConnectivity', 'gs1:checkConnectivity'] as const;
