// Package access carries who is calling (a Grant, put on the request
// context by the bearer-token middleware) and decides what that caller may
// do with FHIR resources: granted scopes ∩ role ∩ patient compartment ∩
// granular filters.
//
// Enforcer implements fhir.Authorizer; the Service consults it on every
// interaction and applies the fhir.Permit it returns to queries (so that
// searches, paging and totals only ever see what the caller may see) and
// to each resource read or written:
//
//	svc := &fhir.Service{Store: st, Registry: reg, Authorizer: access.NewEnforcer(reg)}
//	ctx = access.WithGrant(ctx, grant) // done by the token layer per request
//
// The rules, per role (a role caps every scope):
//
//   - practitioner: user/ and patient/ scopes on every type but AuditEvent;
//   - patient: every scope confined to the patient's compartment
//     (Grant.PatientContext), plus reading shared reference data
//     (Practitioner, Organization, Medication, ... see sharedTypes);
//   - admin: shared reference data only, never clinical data;
//   - auditor: reading and searching AuditEvent only;
//   - system (Backend Services): its system/ scopes; AuditEvent only when a
//     scope names it (not system/*), and never updated or deleted.
//
// patient/ scopes reach the compartment of the patient in context and
// nothing without one; user/ scopes what the role allows; system/ scopes
// count only for Backend Services clients. A granular filter
// (patient/Observation.rs?category=...) is parsed as search parameters of
// the type; a filter that cannot be enforced exactly makes its scope grant
// nothing.
package access
