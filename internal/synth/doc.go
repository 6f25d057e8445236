// Package synth generates realistic, deterministic synthetic R4 data for
// benchmarks and demos: Organizations, Practitioners (NPI identifiers),
// Patients (names from sizeable lists, accented ones included; MRNs; birth
// dates 1930–2020; addresses and telecom), each patient's home monitoring
// kit of Devices (blood pressure monitor, pulse oximeter, scale,
// thermometer), Encounters (remote monitoring periods, class VR, and clinic
// visits, class AMB), and vital-sign Observations with LOINC codes and UCUM
// units taken between 2024-01-01 and 2026-11-01.
//
//	g, err := synth.New(synth.Options{Seed: 1, Patients: 10000, ObservationsPerPatient: 100})
//	shared := g.Shared()          // Organizations, then Practitioners
//	for i := range g.Counts().Patients {
//		rs := g.Patient(i)        // Patient, Devices, Encounters, Observations
//		...
//	}
//
// The same seed and sizes always give the same resources, byte for byte,
// and Patient(i) depends only on them and i, so patients can be generated
// concurrently and in any order. Every resource passes resource.Parse.
// Bodies carry their id but no meta.versionId or meta.lastUpdated: whoever
// stores them stamps those (resource.Stamp).
package synth
