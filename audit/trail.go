package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/smart/access"
)

// Options configure a Trail.
type Options struct {
	// Store is the store the trail keeps its records in; it must
	// implement store.AuditLog (both stores do).
	Store store.Store
	// Registry indexes sealed AuditEvents and finds the Patients a
	// resource belongs to. Required.
	Registry *search.Registry
	// BaseURL is the server's FHIR base; it names the server in every
	// record.
	BaseURL string
	// Software names the server ("telefhir 1.2.3").
	Software string
	// Logger receives failures (never record contents). Nil: slog.Default.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NewID makes AuditEvent ids; nil means resource.NewID.
	NewID func() string
	// SealBatch is how many queue entries one sealing transaction takes
	// while the server is idle (default 16; an entry holds at most 64
	// records). While requests are being served it takes one.
	SealBatch int
	// SealInterval is how often the sealer looks for records when nobody
	// wakes it (default 1s); records written through this Trail wake it.
	SealInterval time.Duration
	// GroupCommitWait is how long a group commit waits for more records
	// once requests arrive concurrently (default 1ms; negative: never).
	// Longer groups cost less per record and add latency.
	GroupCommitWait time.Duration
}

// Trail is the audit trail of one server process: the store wrapper that
// audits writes in their own transaction (Wrap), the HTTP middleware that
// audits every interaction (Middleware), Record for the events of other
// packages, the group commit, and the sealer (RunSealer). It is safe for
// concurrent use.
type Trail struct {
	st    store.Store
	log   store.AuditLog
	reg   *search.Registry
	srv   server
	l     *slog.Logger
	now   func() time.Time
	newID func() string
	batch int
	every time.Duration

	w    *writer
	wake chan struct{}
	// inflight counts FHIR requests being served and lastRequest is when
	// the last one started (Unix nanoseconds): the sealer yields to them.
	inflight    atomic.Int64
	lastRequest atomic.Int64
}

// maxEntryRecords bounds the records of one group commit, and so of one
// queue entry: sealing one entry holds the (embedded store's single)
// writer for a bounded time.
const maxEntryRecords = 64

// busy reports whether requests are being served, or were a moment ago.
func (t *Trail) busy() bool {
	return t.inflight.Load() > 0 || time.Since(time.Unix(0, t.lastRequest.Load())) < time.Second
}

// New returns a Trail ready to record. Close it after the HTTP server
// has stopped; run RunSealer beside the server.
func New(o Options) (*Trail, error) {
	al, ok := o.Store.(store.AuditLog)
	if !ok {
		return nil, fmt.Errorf("audit: %T keeps no audit trail (store.AuditLog)", o.Store)
	}
	if o.Registry == nil {
		return nil, errors.New("audit: a search registry is required")
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("audit: base URL %q is not an absolute URL", o.BaseURL)
	}
	t := &Trail{
		st: o.Store, log: al, reg: o.Registry,
		srv:   server{baseURL: strings.TrimRight(o.BaseURL, "/"), site: u.Hostname(), software: o.Software},
		l:     o.Logger,
		now:   o.Now,
		newID: o.NewID,
		batch: o.SealBatch,
		every: o.SealInterval,
		wake:  make(chan struct{}, 1),
	}
	if t.l == nil {
		t.l = slog.Default()
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.newID == nil {
		t.newID = resource.NewID
	}
	if t.batch <= 0 {
		t.batch = 16
	}
	if t.every <= 0 {
		t.every = time.Second
	}
	wait := o.GroupCommitWait
	if wait == 0 {
		wait = time.Millisecond
	}
	t.w = newWriter(o.Store, maxEntryRecords, wait, 30*time.Second, t.Wake)
	return t, nil
}

// Close writes what is pending and stops the writer. Records submitted
// afterwards fail with ErrClosed. Close the HTTP server first: requests in
// flight wait for their records.
func (t *Trail) Close() error {
	t.w.close()
	return nil
}

// Wake tells the sealer that records were queued.
func (t *Trail) Wake() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Record writes e to the audit trail and returns once it is durable; an
// error means it is not, and the caller should treat the action as failed.
// Its fields say who acted; missing ones are taken from the Grant on ctx.
func (t *Trail) Record(ctx context.Context, e Event) error {
	kind, ok := kindNames[e.Kind]
	if !ok {
		return fmt.Errorf("audit: unknown event kind %d", e.Kind)
	}
	rec := t.base(ctx, nil)
	rec.kind, rec.action = kind, kindCodes[kind].action
	rec.outcome = e.Outcome
	if e.Kind == AccessDenied && e.Outcome == Success {
		rec.outcome = MinorFailure
	}
	rec.desc = sanitize(e.Reason)
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&rec.actor.clientID, e.ClientID}, {&rec.actor.fhirUser, e.FHIRUser}, {&rec.actor.subject, e.Subject},
		{&rec.actor.role, e.Role}, {&rec.actor.token, tokenName(e.TokenID)}, {&rec.actor.address, e.Address},
	} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if e.Endpoint != "" {
		rec.endpoint = endpointOf(e.Endpoint)
	}
	for i, r := range e.Resources {
		re := resourceEntity{ref: r}
		if i == 0 {
			if e.Count > 0 {
				re.details = append(re.details, detail{Type: "count", ValueString: strconv.Itoa(e.Count)})
			}
			if e.Decision != "" {
				re.details = append(re.details, detail{Type: "decision", ValueString: sanitize(e.Decision)})
			}
		}
		rec.resources = append(rec.resources, re)
	}
	rec.patients = sortedUnique(e.Patients)
	rec.requestID = e.RequestID
	line, err := rec.encode(nil)
	if err != nil {
		return err
	}
	return t.w.write(line)
}

// base is a record with an id, the time and the actor from ctx and req.
func (t *Trail) base(ctx context.Context, req *Request) *record {
	rec := &record{id: t.newID(), recorded: t.now().UTC().Truncate(time.Millisecond)}
	if g, ok := access.FromContext(ctx); ok {
		rec.actor = actor{clientID: g.ClientID, fhirUser: g.FHIRUser, subject: g.Subject, role: string(g.Role), token: tokenName(g.TokenID)}
	}
	if req != nil {
		rec.actor.address = req.Address
		rec.requestID = req.ID
	}
	return rec
}

// interaction is the record of one FHIR interaction that ended with
// status (and err, when the handler failed).
func (t *Trail) interaction(ctx context.Context, req *Request, snap requestSnapshot, status int) *record {
	rec := t.base(ctx, req)
	rec.kind, rec.interaction, rec.operation, rec.action = kindREST, req.Interaction, req.Operation, "E"
	if a, ok := interactionAction[req.Interaction]; ok {
		rec.action = a
	}
	rec.outcome = outcomeOf(status)
	if rec.outcome != Success {
		rec.desc = describe(status, snap.err)
	}
	for _, r := range snap.resources {
		rec.resources = append(rec.resources, resourceEntity{ref: r})
	}
	rec.patients = snap.patients
	rec.query = req.Query
	return rec
}

// describe is the outcome description of a failed interaction: the status
// and the OperationOutcome's issue codes, which are fixed words. The
// diagnostics and locations are left out: they can echo what the client
// sent.
func describe(status int, err error) string {
	s := strconv.Itoa(status) + " " + http.StatusText(status)
	if err == nil {
		return s
	}
	var oe *outcome.Error
	if !errors.As(err, &oe) {
		return s
	}
	var codes []string
	for _, is := range oe.Issues {
		if !slices.Contains(codes, is.Code) {
			codes = append(codes, is.Code)
		}
	}
	if len(codes) == 0 {
		return s
	}
	return s + " (" + strings.Join(codes, ", ") + ")"
}

// write is the record of one version stored by a write. prev are the
// Patients of the version it replaces.
func (t *Trail) write(ctx context.Context, r store.Resource, prev []string) *record {
	req := RequestFrom(ctx)
	rec := t.base(ctx, req)
	code, action := "update", "U"
	switch {
	case r.Method == "POST":
		code, action = "create", "C"
	case r.Method == "PATCH":
		code = "patch"
	case r.Method == "DELETE":
		code, action = "delete", "D"
	case r.VersionID == 1:
		action = "C" // update as create
	}
	rec.kind, rec.interaction, rec.action = kindREST, code, action
	rec.resources = []resourceEntity{{ref: r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)}}
	rec.patients = sortedUnique(slices.Concat(prev, t.patientsOfIndex(r)))
	if req != nil {
		rec.query = req.Query // the criteria of a conditional write
	}
	return rec
}

// patientsOf returns the Patients whose compartments r is in.
func (t *Trail) patientsOf(r store.Resource) []string {
	switch {
	case r.Deleted || len(r.Body) == 0:
		return nil
	case r.Type == "Patient":
		return []string{r.ID}
	case len(t.reg.Compartment("Patient", r.Type)) == 0:
		return nil
	}
	x, err := t.reg.ExtractCompartment("Patient", r.Type, r.Body)
	if err != nil {
		// Stored bytes are valid JSON; this is not expected.
		t.l.Warn("audit: could not find the patients of a resource", "type", r.Type, "error", err)
		return nil
	}
	return t.reg.CompartmentIDs("Patient", r.Type, r.ID, x)
}

// patientsOfIndex is patientsOf from the index rows a write carries.
func (t *Trail) patientsOfIndex(r store.Resource) []string {
	switch {
	case r.Deleted:
		return nil
	case r.Type == "Patient":
		return []string{r.ID}
	case r.Index == nil:
		return t.patientsOf(r)
	}
	return t.reg.CompartmentIDs("Patient", r.Type, r.ID, r.Index)
}

func sortedUnique(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
