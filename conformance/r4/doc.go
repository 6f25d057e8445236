// Package r4 embeds official FHIR R4 (4.0.1) definitions the server is built
// from: every SearchParameter of the specification and the compartment
// definitions (Patient, Encounter, RelatedPerson, Practitioner, Device).
// The files come unchanged from the npm package hl7.fhir.r4.examples@4.0.1
// (CC0-1.0; see README.md); the search parameter Bundle is gzip-compressed.
//
//	params, err := r4.SearchParameters()
//	patient, err := r4.Compartment("Patient")
package r4
