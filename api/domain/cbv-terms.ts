/**
 * The bare-word terms of the EPCIS 2.0 JSON-LD context (CBV 2.0 and GS1 web vocabulary) and the
 * IRI each expands to, as GS1 publishes them in the context files `cbv-context-*.jsonld` and
 * `gs1-context-*.jsonld` (ref.gs1.org/standards/epcis/2.0.0). Generated from those files; used by
 * the event hash (epcis-hash.ts) to expand `"shipping"` to `https://ref.gs1.org/cbv/BizStep-shipping`
 * exactly where JSON-LD expansion would.
 */

export interface VocabularySet {
  readonly prefix: string;
  readonly terms: ReadonlySet<string>;
}

const set = (prefix: string, terms: string): VocabularySet => Object.freeze({ prefix, terms: new Set(terms.split(" ")) });

export const CBV_TERMS = Object.freeze({
  bizStep: set("https://ref.gs1.org/cbv/BizStep-", "accepting arriving assembling collecting commissioning consigning creating_class_instance cycle_counting decommissioning departing destroying disassembling dispensing encoding entering_exiting holding inspecting installing killing loading other packing picking receiving removing repackaging repairing replacing reserving retail_selling sampling sensor_reporting shipping staging_outbound stock_taking stocking storing transporting unloading unpacking void_shipping"),
  disposition: set("https://ref.gs1.org/cbv/Disp-", "active available completeness_verified completeness_inferred conformant container_closed container_open damaged destroyed dispensed disposed encoded expired in_progress in_transit inactive mismatch_instance mismatch_class mismatch_quantity needs_replacement no_pedigree_match non_conformant non_sellable_other partially_dispensed recalled reserved retail_sold returned sellable_accessible sellable_not_accessible stolen unavailable unknown"),
  bizTransactionType: set("https://ref.gs1.org/cbv/BTT-", "bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt"),
  sourceDestType: set("https://ref.gs1.org/cbv/SDT-", "owning_party possessing_party location"),
  errorReason: set("https://ref.gs1.org/cbv/ER-", "did_not_occur incorrect_data"),
  component: set("https://ref.gs1.org/cbv/Comp-", "x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle easting northing latitude longitude altitude"),
  sensorAlertType: set("https://gs1.org/voc/", "ALARM_CONDITION ERROR_CONDITION"),
  measurementType: set("https://gs1.org/voc/", "AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration AngularMomentum AngularVelocity Area Capacitance Conductance Conductivity Count Density Dimensionless DoseEquivalent DoseEquivalentRate DynamicViscosity ElectricCharge ElectricCurrent ElectricCurrentDensity ElectricFieldStrength Energy Exposure Force Frequency Illuminance Inductance Irradiance KinematicViscosity Length LinearMomentum Luminance LuminousFlux LuminousIntensity MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass MassConcentration MassFlowRate MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity RelativeHumidity Resistance Resistivity SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension Temperature Time Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux Wavenumber"),
});
