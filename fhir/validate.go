package fhir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/store"
)

// ValidateRequest is one $validate call
// (http://hl7.org/fhir/R4/resource-operation-validate.html).
type ValidateRequest struct {
	// Type is the resource type of the URL; ID the instance's id, empty at
	// type level.
	Type, ID string
	// Body is the request body: the resource itself, or a Parameters
	// resource with the parameters resource, mode and profile. Nil for a
	// GET, which validates the stored current version of Type/ID.
	Body []byte
	// Mode and Profile are the mode and profile given in the URL; the same
	// parameters in a Parameters body must agree with them.
	Mode, Profile string
}

// The $validate modes (R4 value set resource-validation-mode).
const (
	ModeCreate  = "create"
	ModeUpdate  = "update"
	ModeDelete  = "delete"
	ModeProfile = "profile"
)

// Validate performs $validate: it checks a resource exactly as a write of
// the given mode would (structure, types, required elements, cardinality,
// value formats, inline resources; the id rules of create and update;
// for delete, that the resource exists), stores nothing, and reports the
// findings as an OperationOutcome, errors included. The error is for a
// request that is itself at fault (unknown type, malformed body or
// parameters, nothing to validate), never for a resource that is invalid.
//
// This server checks resources against the base R4 definitions only. A
// profile asked for (other than the base StructureDefinition of the type)
// gets a warning saying it was not checked, and each profile the resource
// claims in meta.profile an informational issue.
func (s *Service) Validate(ctx context.Context, req ValidateRequest) (outcome.OperationOutcome, error) {
	if err := CheckType(req.Type); err != nil {
		return outcome.OperationOutcome{}, err
	}
	if req.ID != "" {
		if err := CheckID(req.ID); err != nil {
			return outcome.OperationOutcome{}, err
		}
	}
	body, err := unwrapValidate(&req)
	if err != nil {
		return outcome.OperationOutcome{}, err
	}
	switch req.Mode {
	case "", ModeCreate, ModeUpdate, ModeDelete, ModeProfile:
	default:
		return outcome.OperationOutcome{}, outcome.New(outcome.KindInvalid, "mode %s is not a $validate mode: use create, update, delete or profile", quoteValue(req.Mode))
	}

	var issues []outcome.Issue
	if req.Mode == ModeDelete {
		issues, err = s.validateDelete(ctx, req, body)
		if err != nil {
			return outcome.OperationOutcome{}, err
		}
		return validateOutcome(issues, "delete"), nil
	}
	if body == nil {
		if req.ID == "" {
			return outcome.OperationOutcome{}, outcome.New(outcome.KindInvalid, "$validate needs the resource to validate: POST it, or a Parameters resource with a resource parameter")
		}
		cur, err := s.Read(ctx, req.Type, req.ID)
		if err != nil {
			return outcome.OperationOutcome{}, err
		}
		body = cur.Body
	}
	issues, err = s.validateResource(ctx, req, body)
	if err != nil {
		return outcome.OperationOutcome{}, err
	}
	return validateOutcome(issues, req.Mode), nil
}

// validateResource checks body as a write of req.Mode would.
func (s *Service) validateResource(ctx context.Context, req ValidateRequest, body []byte) ([]outcome.Issue, error) {
	p, err := resource.Parse(body, req.Type)
	if err != nil {
		oe := outcome.From(err)
		if oe.Kind == outcome.KindInternal {
			return nil, oe
		}
		return append(oe.Issues, profileIssues(req, body)...), nil
	}
	var issues []outcome.Issue
	id := p.ID
	switch req.Mode {
	case ModeCreate:
		if p.ID != "" {
			issues = append(issues, outcome.Issue{Severity: "information", Code: "informational", Expression: []string{req.Type + ".id"},
				Diagnostics: "A create ignores the id in the resource: the server assigns one"})
		}
		id = "validate"
	case ModeUpdate:
		switch {
		case p.ID == "" && req.ID != "":
			issues = append(issues, errorIssue("required", req.Type+".id", fmt.Sprintf("The resource has no id; an update must carry the id of the URL (%q)", req.ID)))
		case p.ID == "":
			issues = append(issues, errorIssue("required", req.Type+".id", "The resource has no id; an update must carry the id of the resource it updates"))
		case req.ID != "" && p.ID != req.ID:
			issues = append(issues, errorIssue("invalid", req.Type+".id", fmt.Sprintf("The resource id %q does not match the id in the URL %q", p.ID, req.ID)))
		}
	}
	if !resource.ValidID(id) {
		id = "validate"
	}
	// What the write path does next: stamp the server's id and meta, and
	// extract the search index.
	if _, err := s.version(ctx, p.Raw, req.Type, id, store.Resource{}, "POST"); err != nil {
		issues = append(issues, outcome.From(err).Issues...)
	}
	issues = append(issues, profileIssues(req, body)...)
	return issues, nil
}

// validateDelete checks that the resource to delete exists. Its id is the
// URL's, or else the id of the resource in the body.
func (s *Service) validateDelete(ctx context.Context, req ValidateRequest, body []byte) ([]outcome.Issue, error) {
	id := req.ID
	if id == "" && body != nil {
		if p, err := resource.Parse(body, req.Type); err == nil {
			id = p.ID
		}
	}
	if id == "" {
		return nil, outcome.New(outcome.KindInvalid, "mode delete needs the resource to delete: use [type]/[id]/$validate, or give the resource with its id")
	}
	if err := CheckID(id); err != nil {
		return nil, err
	}
	r, err := s.Store.Read(ctx, req.Type, id)
	switch {
	case err != nil && !isNotFound(err):
		return nil, outcome.Internal(err)
	case err != nil || r.Deleted:
		return []outcome.Issue{errorIssue("not-found", "", fmt.Sprintf("%s/%s does not exist, so it cannot be deleted", req.Type, id))}, nil
	}
	return nil, nil
}

// validateOutcome is the OperationOutcome for issues: the issues, and an
// informational one that says so when none is an error.
func validateOutcome(issues []outcome.Issue, mode string) outcome.OperationOutcome {
	ok := true
	for _, is := range issues {
		if is.Severity == "error" || is.Severity == "fatal" {
			ok = false
		}
	}
	if ok {
		msg := "The resource is valid"
		switch mode {
		case ModeCreate, ModeUpdate:
			msg += " for " + an(mode)
		case ModeDelete:
			msg = "The resource exists and may be deleted"
		}
		issues = append(issues, outcome.Issue{Severity: "information", Code: "informational", Diagnostics: msg})
	}
	return outcome.OperationOutcome{ResourceType: "OperationOutcome", Issue: issues}
}

// profileIssues reports the profiles the request or the resource names,
// which this server does not check.
func profileIssues(req ValidateRequest, body []byte) []outcome.Issue {
	base := "http://hl7.org/fhir/StructureDefinition/" + req.Type
	isBase := func(url string) bool {
		u, _, _ := strings.Cut(url, "|")
		return u == base
	}
	var issues []outcome.Issue
	if req.Profile != "" && !isBase(req.Profile) {
		issues = append(issues, outcome.Issue{Severity: "warning", Code: "not-supported",
			Diagnostics: fmt.Sprintf("Profile %s was not checked: this server validates against the base R4 definitions only (%s)", quoteValue(req.Profile), base)})
	}
	var claims struct {
		Meta struct {
			Profile []string `json:"profile"`
		} `json:"meta"`
	}
	_ = json.Unmarshal(body, &claims) // body passed resource.Parse
	for i, p := range claims.Meta.Profile {
		if isBase(p) || p == req.Profile {
			continue
		}
		issues = append(issues, outcome.Issue{Severity: "information", Code: "informational", Expression: []string{fmt.Sprintf("%s.meta.profile[%d]", req.Type, i)},
			Diagnostics: fmt.Sprintf("The resource claims profile %s, which this server does not check", quoteValue(p))})
	}
	return issues
}

// unwrapValidate returns the resource to validate from req.Body, which is
// the resource or a Parameters resource carrying it, and merges the
// Parameters' mode and profile into req. It returns nil when there is no
// resource (a GET, or mode delete without one).
func unwrapValidate(req *ValidateRequest) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	var head struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name           string          `json:"name"`
			Resource       json.RawMessage `json:"resource"`
			ValueCode      *string         `json:"valueCode"`
			ValueString    *string         `json:"valueString"`
			ValueURI       *string         `json:"valueUri"`
			ValueCanonical *string         `json:"valueCanonical"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(req.Body, &head); err != nil {
		// Not JSON, or not an object: say where, as a create would.
		if _, perr := resource.Parse(req.Body, ""); outcome.Is(perr, outcome.KindStructure) {
			return nil, perr
		}
		if !json.Valid(req.Body) {
			return nil, outcome.New(outcome.KindStructure, "The request body is not valid JSON")
		}
		return req.Body, nil // JSON, but not a resource: Validate reports it
	}
	if head.ResourceType != "Parameters" {
		return req.Body, nil
	}
	wrapper := req.Type != "Parameters"
	for _, p := range head.Parameter {
		if p.Name == "resource" || p.Name == "mode" || p.Name == "profile" {
			wrapper = true
		}
	}
	if !wrapper {
		return req.Body, nil // a Parameters resource to validate
	}
	var body []byte
	for i, p := range head.Parameter {
		where := fmt.Sprintf("Parameters.parameter[%d]", i)
		switch p.Name {
		case "resource":
			if len(p.Resource) == 0 || body != nil {
				return nil, outcome.Invalid(where, "the resource parameter must be given once, with a resource")
			}
			body = p.Resource
		case "mode":
			if err := setParam(&req.Mode, where, "mode", p.ValueCode, p.ValueString); err != nil {
				return nil, err
			}
		case "profile":
			if err := setParam(&req.Profile, where, "profile", p.ValueURI, p.ValueCanonical); err != nil {
				return nil, err
			}
		default:
			return nil, outcome.Invalid(where+".name", "$validate has no parameter %s (it takes resource, mode and profile)", quoteValue(p.Name))
		}
	}
	return body, nil
}

// setParam sets *dst from the first non-nil value, refusing a value that
// disagrees with one the URL gave.
func setParam(dst *string, where, name string, values ...*string) error {
	var v *string
	for _, x := range values {
		if x != nil {
			v = x
			break
		}
	}
	if v == nil || *v == "" {
		return outcome.Invalid(where, "the %s parameter needs a value", name)
	}
	if *dst != "" && *dst != *v {
		return outcome.Invalid(where, "the %s parameter (%s) disagrees with the %s in the URL (%s)", name, quoteValue(*v), name, quoteValue(*dst))
	}
	*dst = *v
	return nil
}

func errorIssue(code, expression, diagnostics string) outcome.Issue {
	is := outcome.Issue{Severity: "error", Code: code, Diagnostics: diagnostics}
	if expression != "" {
		is.Expression = []string{expression}
	}
	return is
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// an puts the article before a mode.
func an(mode string) string {
	if mode == ModeUpdate {
		return "an update"
	}
	return "a " + mode
}

// quoteValue quotes a client-supplied value for a message, cut short.
func quoteValue(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return fmt.Sprintf("%q", s)
}
