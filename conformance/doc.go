// Package conformance describes what this server can do in the FHIR way:
// Build turns the interactions the REST layer actually registered, over the
// R4 resource types the resource model knows, into the server's
// CapabilityStatement (served at /metadata).
//
//	b, err := conformance.Build(conformance.Options{BaseURL: base, Interactions: routes})
package conformance
