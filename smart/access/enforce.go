package access

import (
	"context"
	"strings"
	"time"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/smart/scope"
)

// Enforcer is the fhir.Authorizer of SMART access tokens: it reads the
// Grant on the request context and permits what its scopes allow, capped
// by the user's role, confined to the patient's compartment for patient/
// scopes (and for every scope of a patient), and narrowed by the scopes'
// granular filters.
//
//	svc := &fhir.Service{Store: st, Registry: reg, Authorizer: access.NewEnforcer(reg)}
type Enforcer struct {
	// Registry knows the compartments and parses granular filters.
	Registry *search.Registry
	// Now is the clock tokens expire by; nil means time.Now.
	Now func() time.Time
}

// NewEnforcer returns the Enforcer over reg.
func NewEnforcer(reg *search.Registry) *Enforcer {
	return &Enforcer{Registry: reg}
}

var _ fhir.Authorizer = (*Enforcer)(nil)

// AuditEvent is the type only auditors, and Backend Services clients whose
// system/ scopes name it, may read.
const AuditEvent = "AuditEvent"

// sharedTypes are reference data that describe no patient and belong to no
// patient's compartment: who and where care is given, what medications
// and questionnaires are, and the definitions of the server. Patient
// access (patient/ scopes, the patient role) may read and search them;
// administrators may manage them.
var sharedTypes = map[string]bool{
	"Practitioner": true, "PractitionerRole": true, "Organization": true, "OrganizationAffiliation": true,
	"Location": true, "HealthcareService": true, "Endpoint": true,
	"Medication": true, "MedicationKnowledge": true, "Substance": true,
	"Questionnaire": true, "ValueSet": true, "CodeSystem": true, "ConceptMap": true, "NamingSystem": true,
	"StructureDefinition": true, "SearchParameter": true, "OperationDefinition": true,
	"CapabilityStatement": true, "CompartmentDefinition": true, "ImplementationGuide": true,
}

// Permit implements fhir.Authorizer: a 401 without a grant or with an
// expired one, otherwise Decide.
func (e *Enforcer) Permit(ctx context.Context, typ string, a fhir.Action) (fhir.Permit, error) {
	g, ok := FromContext(ctx)
	if !ok {
		return fhir.Permit{}, outcome.New(outcome.KindUnauthorized, "This request needs an access token (Authorization: Bearer)")
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	if !g.ExpiresAt.IsZero() && !now().Before(g.ExpiresAt) {
		return fhir.Permit{}, outcome.New(outcome.KindUnauthorized, "The access token has expired")
	}
	return e.Decide(g, typ, a), nil
}

// Decide returns what g permits a to do on resources of typ: the
// resources that satisfy at least one of its resource scopes granting a on
// typ, each scope capped by the role and narrowed by the patient's
// compartment and its filter. A scope without either lets every resource
// of typ through.
func (e *Enforcer) Decide(g *Grant, typ string, a fhir.Action) fhir.Permit {
	perm, ok := permission(a)
	if !ok || !resource.IsType(typ) {
		return fhir.Permit{}
	}
	var alts [][]search.Clause
	for _, s := range g.Scopes.Resources {
		if (s.Type != "*" && s.Type != typ) || !s.Perms.Has(perm) {
			continue
		}
		where, ok := e.scopeClauses(g, s, typ, perm)
		if !ok {
			continue
		}
		if len(where) == 0 {
			return fhir.Permit{All: true}
		}
		alts = append(alts, where)
	}
	return fhir.Permit{Any: alts}
}

func permission(a fhir.Action) (scope.Permission, bool) {
	switch a {
	case fhir.ActionCreate:
		return scope.Create, true
	case fhir.ActionRead:
		return scope.Read, true
	case fhir.ActionUpdate:
		return scope.Update, true
	case fhir.ActionDelete:
		return scope.Delete, true
	case fhir.ActionSearch:
		return scope.Search, true
	}
	return 0, false
}

// reach is how far a role lets a scope go on one type.
type reach uint8

const (
	reachNone        reach = iota
	reachCompartment       // the patient's compartment, and shared reference data to read
	reachAll
)

// roleReach caps every scope of role on typ (AuditEvent aside, see
// auditEvent).
func roleReach(role Role, typ string) reach {
	switch role {
	case RolePractitioner, RoleSystem:
		return reachAll
	case RolePatient:
		return reachCompartment
	case RoleAdmin:
		if sharedTypes[typ] {
			return reachAll
		}
	}
	return reachNone
}

// auditEvent says whether scope s of g reaches AuditEvents with perm:
// auditors may read and search them (user/ or, in a patient's context,
// patient/ scopes); a Backend Services client may read, search and create
// them with system/ scopes that name AuditEvent (not system/*). Nobody
// updates or deletes them.
func auditEvent(g *Grant, s scope.Resource, perm scope.Permission) bool {
	switch g.Role {
	case RoleAuditor:
		return (scope.Read | scope.Search).Has(perm)
	case RoleSystem:
		return s.Type == AuditEvent && (scope.Create | scope.Read | scope.Search).Has(perm)
	}
	return false
}

// scopeClauses returns the clauses a resource of typ must satisfy to be
// let through by s (none: every resource), or ok false when s lets
// nothing of typ through for g.
func (e *Enforcer) scopeClauses(g *Grant, s scope.Resource, typ string, perm scope.Permission) (where []search.Clause, ok bool) {
	// system/ scopes are for Backend Services clients, the other levels
	// for users.
	if (s.Level == scope.System) != (g.Role == RoleSystem) {
		return nil, false
	}
	compartment := s.Level == scope.Patient
	if typ == AuditEvent {
		if !auditEvent(g, s, perm) {
			return nil, false
		}
	} else {
		switch roleReach(g.Role, typ) {
		case reachNone:
			return nil, false
		case reachCompartment:
			compartment = true
		}
	}
	if compartment {
		c, ok := e.compartment(g, typ, perm)
		if !ok {
			return nil, false
		}
		where = append(where, c...)
	}
	if len(s.Filter) > 0 {
		f, ok := e.filter(typ, s)
		if !ok {
			return nil, false
		}
		where = append(where, f...)
	}
	return where, true
}

// compartment returns the clause that confines typ to the compartment of
// g's patient. Types outside every patient's compartment are readable
// only when they are shared reference data. Without a patient, nothing.
func (e *Enforcer) compartment(g *Grant, typ string, perm scope.Permission) ([]search.Clause, bool) {
	pid := g.PatientContext()
	if pid == "" {
		return nil, false // patient/ scopes without a patient grant nothing
	}
	if typ != "Patient" && len(e.Registry.Compartment("Patient", typ)) == 0 {
		return nil, sharedTypes[typ] && (scope.Read | scope.Search).Has(perm)
	}
	c, ok := e.Registry.CompartmentClause("Patient", pid, typ)
	if !ok {
		return nil, false
	}
	return []search.Clause{c}, true
}

// filter parses the granular filter of s as search parameters of typ. A
// filter this server cannot enforce exactly (an unknown parameter, a
// result parameter, a chain) makes the scope grant nothing: ignoring any
// part of it would widen what it grants.
func (e *Enforcer) filter(typ string, s scope.Resource) ([]search.Clause, bool) {
	for k := range s.Filter {
		switch k {
		case "_count", "_sort", "_include", "_revinclude", "_total", "_summary", "_elements", "_type", "_format", "_pretty", "_cursor":
			return nil, false
		}
	}
	q, _, err := e.Registry.Parse(typ, s.Filter, search.ParseOptions{Strict: true})
	if err != nil || len(q.Where) == 0 || search.Evaluable(q.Where) != nil {
		return nil, false
	}
	return q.Where, true
}

// PatientContext is the patient whose compartment patient/ scopes (and
// every scope of a patient) reach: the launch context when there is one,
// else the Patient the user is (FHIRUser "Patient/123"). "" when neither
// names a valid id.
func (g *Grant) PatientContext() string {
	id := g.Patient
	if id == "" {
		id, _ = strings.CutPrefix(g.FHIRUser, "Patient/")
		if id == g.FHIRUser {
			return ""
		}
	}
	if !resource.ValidID(id) {
		return ""
	}
	return id
}
