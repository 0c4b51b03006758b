export {
  DEFAULT_LEGAL_NOTICE,
  DscsaError,
  GS1US_HC_NAMESPACE,
  dscsaShipmentFromEvent,
  toDscsaShipmentXml,
  type DscsaContext,
  type DscsaErrorCode,
  type DscsaOptions,
  type DscsaProblem,
  type DscsaShipment,
} from './shipment-file';
