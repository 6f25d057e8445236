// Package audit is telefhir's audit trail (HIPAA §164.312(b)): one
// AuditEvent in the IHE BALP shape for every FHIR interaction (each Bundle
// entry too), login and logout, token issued, refreshed, introspected or
// revoked, consent decision, access denial, subscription delivery, device
// ingestion batch and video join or leave; failures included.
//
// A Trail is built over the store and wired in three places:
//
//	trail, err := audit.New(audit.Options{Store: st, Registry: reg, BaseURL: base, Software: "telefhir 1.0"})
//	svc := &fhir.Service{Store: trail.Wrap(st), Registry: reg}       // writes audited in their own transaction
//	e.Use(trail.Middleware(rest.Classify))                             // every interaction, before the response
//	go trail.RunSealer(ctx)                                            // queued records → AuditEvents + hash chain
//	err = trail.Record(ctx, audit.Event{Kind: audit.TokenIssue, ...}) // other packages
//
// Other packages (the OAuth server, subscriptions, devices, video) declare
// the small interface they need and are given the Trail at wiring:
//
//	type Auditor interface {
//		Record(ctx context.Context, e audit.Event) error
//	}
//
// No record is lost when the server dies right after answering: a write's
// record is queued in the write's own database transaction, and every other
// record is queued by a group commit that the response waits for. Queued
// records are sealed in the background: stored as ordinary AuditEvent
// resources (so AuditEvent?patient=, agent=, date=, entity=, subtype= work)
// and linked into a SHA-256 hash chain, each record carrying its position and
// the previous record's hash. Verify walks the chain and names the first
// broken link; Export and Trail.Purge remove records past the retention
// period (six years by default), recording the purge itself and moving the
// chain's anchor so that verification still passes.
//
// AuditEvents are append-only: the wrapped store refuses every write of one
// through the FHIR API (ErrAppendOnly, 405). Who may read them (the auditor
// role, system scopes) is the SMART enforcement's decision.
//
// The records never carry protected health information in free text:
// patients and resources are named by reference, the outcome description
// holds only the HTTP status and issue codes, and tokens appear by id or
// a short suffix (TokenRef).
package audit
