package audit

import (
	"context"
	"slices"
	"sync"
)

// Request is what the audit trail learns about one HTTP request to the
// FHIR API while it is served: set up by the middleware, filled in by the
// store wrapper (resources and patients touched, writes audited in their
// own transaction), and turned into the interaction's AuditEvent before the
// response goes out.
type Request struct {
	// ID is the request id (X-Request-Id).
	ID string
	// Address is the client's network address.
	Address string
	// Interaction is the restful-interaction code of the route ("read",
	// "search-type", ...; "operation" for operations), "" when no FHIR
	// route matched.
	Interaction string
	// Operation is the operation's name without "$" ("everything").
	Operation string
	// Query is the raw query of a search or operation (the URL's, and for
	// POST _search the form body's).
	Query []byte

	mu        sync.Mutex
	resources []string // "Type/id/_history/v"
	patients  []string
	// written counts the records committed with the request's writes.
	written int
	// entries are the records of a Bundle's individual entries.
	entries []*record
	err     error
	done    bool
}

type requestKey struct{}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the Request on ctx, or nil.
func RequestFrom(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// perEntry reports whether the request is a Bundle whose entries are
// audited one by one.
func (r *Request) perEntry() bool {
	return r.Interaction == "transaction" || r.Interaction == "batch"
}

func (r *Request) addResource(ref string) {
	r.mu.Lock()
	if !slices.Contains(r.resources, ref) {
		r.resources = append(r.resources, ref)
	}
	r.mu.Unlock()
}

func (r *Request) addPatients(ids []string) {
	if len(ids) == 0 {
		return
	}
	r.mu.Lock()
	for _, id := range ids {
		if !slices.Contains(r.patients, id) {
			r.patients = append(r.patients, id)
		}
	}
	r.mu.Unlock()
}

func (r *Request) addWritten(n int) {
	r.mu.Lock()
	r.written += n
	r.mu.Unlock()
}

func (r *Request) addEntry(rec *record) {
	r.mu.Lock()
	r.entries = append(r.entries, rec)
	r.mu.Unlock()
}

func (r *Request) setErr(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

// finish marks the request finished and returns what was noted; ok is
// false when it was finished already.
func (r *Request) finish() (snap requestSnapshot, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return requestSnapshot{}, false
	}
	r.done = true
	slices.Sort(r.patients)
	return requestSnapshot{resources: r.resources, patients: r.patients, written: r.written, entries: r.entries, err: r.err}, true
}

type requestSnapshot struct {
	resources []string
	patients  []string
	written   int
	entries   []*record
	err       error
}
