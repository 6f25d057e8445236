// Package fhir is the FHIR R4 domain layer of telefhir: the interactions a
// client can perform on resources (create, read, vread, update, patch as
// JSON Patch or FHIRPath Patch, delete, history, $validate), expressed over the store contract in fhir/store and the
// resource model in fhir/resource. It knows nothing about HTTP; fhir/rest
// turns requests into calls on a *Service and renders what comes back.
//
//	svc := &fhir.Service{Store: st}
//	res, err := svc.Create(ctx, "Patient", body)
//
// Every error a Service returns is an *outcome.Error (or wraps one), so the
// REST layer renders it as an OperationOutcome with the right status.
//
// Access control: a Service with an Authorizer (access.go) asks it, at the
// start of every interaction, what the caller on ctx may do, and applies
// the Permit to everything the interaction touches (authorize.go); without
// one, every caller may do everything.
//
// Each interaction has one internal function that does it inside an open
// store transaction or on a store.Reader (createIn, updateIn, patchWithIn,
// deleteIn, conditionalDeleteIn, readIn, vreadIn, searchIn, historyIn,
// everythingIn). The public methods validate their input and call it in a
// transaction of their own; a transaction or batch Bundle calls the same
// functions for each entry. Whatever applies to every interaction (such as
// an authorization check) belongs in those functions, so that a Bundle
// entry cannot get around it.
package fhir
