import { EpcisMappingError, toEpcisDocument, type EpcisContext } from "../../domain/epcis";
import type { EpcisEventJson, EpcisMapping } from "../ports";

/**
 * The mapping of api/domain/epcis.ts as an {@link EpcisMapping}: the events of
 * `toEpcisDocument(...).epcisBody.eventList`. Ledger events that mapping has no EPCIS form for
 * (register and packing events in the quantity-era mapping) map to nothing rather than stopping
 * the projection; the package-level mapping returns nothing for them by itself.
 */
export const domainMapping: EpcisMapping = (events, ctx) => {
  try {
    return toEpcisDocument(events, ctx as unknown as EpcisContext, { creationDate: new Date(0) }).epcisBody.eventList as unknown as EpcisEventJson[];
  } catch (err) {
    if (err instanceof EpcisMappingError && err.code === "EPCIS_BAD_EVENT" && /no EPCIS mapping/.test(err.message)) return [];
    throw err;
  }
};
