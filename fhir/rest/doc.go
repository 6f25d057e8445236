// Package rest is the FHIR R4 RESTful API of telefhir on echo: it turns
// HTTP requests into calls on a *fhir.Service and renders the results with
// the spec's HTTP semantics (ETag, Last-Modified, Location, conditional
// headers, Prefer, content negotiation, gzip) or, for every failure, an
// OperationOutcome.
//
//	api := rest.New(svc, rest.Config{BaseURL: "http://127.0.0.1:8080"})
//	e := echo.New()
//	api.Register(e)
//
// Handlers are thin: parse the request into typed values, call one Service
// method, render. The CapabilityStatement at /metadata is generated from the
// same route table that Register installs.
package rest
