// Package smart is the SMART-on-FHIR authorization server and the enforcement
// the FHIR API asks for: discovery, authorize, token, introspection and
// revocation (SMART App Launch 2 and Backend Services), with the scopes in
// smart/scope and the per-request decisions in smart/access.
package smart
