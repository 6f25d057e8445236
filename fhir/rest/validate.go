package rest

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/conformance"
	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
)

// validateOp is $validate, defined on Resource: every type has it (typ "").
var validateOp = &typeOperation{"", conformance.Operation{Name: "validate", Definition: "http://hl7.org/fhir/OperationDefinition/Resource-validate"}}

// validate is $validate: POST [type]/$validate and POST [type]/[id]/$validate
// with the resource (or a Parameters resource carrying resource, mode and
// profile) as the body, and GET [type]/[id]/$validate for the stored
// version. mode and profile may be given in the URL. A well-formed request
// is answered 200 with an OperationOutcome, whatever it finds.
func (a *API) validate(c echo.Context) error {
	q := c.QueryParams()
	req := fhir.ValidateRequest{Type: c.Param("type"), ID: c.Param("id"), Mode: q.Get("mode"), Profile: q.Get("profile")}
	if err := fhir.CheckType(req.Type); err != nil {
		return err
	}
	if c.Request().Method == http.MethodPost {
		body, err := readBody(c, a.cfg.MaxBodyBytes, mimeFHIRJSON, mimeJSON)
		if err != nil {
			return err
		}
		req.Body = body
	}
	oo, err := a.svc.Validate(c.Request().Context(), req)
	if err != nil {
		return err
	}
	b, err := marshal(oo)
	if err != nil {
		return outcome.Internal(err)
	}
	return writeJSON(c, http.StatusOK, b)
}

// addOperation lists op under its type, or under every type when it is
// defined on Resource; an operation reached at several levels is listed
// once.
func addOperation(ops map[string][]conformance.Operation, op *typeOperation) {
	types := []string{op.typ}
	if op.typ == "" {
		types = resource.Types()
	}
	for _, t := range types {
		if !slices.Contains(ops[t], op.op) {
			ops[t] = append(ops[t], op.op)
		}
	}
}
