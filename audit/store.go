package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// ErrAppendOnly is the refusal of every write of an AuditEvent through the
// FHIR API: audit records are written by the trail alone and never change.
var ErrAppendOnly = outcome.New(outcome.KindMethodNotAllowed,
	"AuditEvents are append-only: the server writes them itself, and they cannot be created, updated, patched or deleted through the API")

// Wrap returns st with the audit trail around it:
//
//   - Write's transaction puts, with every resource version, the
//     AuditEvent of that write into the audit queue, in the same database
//     transaction (one per version, so every Bundle entry gets one); and
//     it refuses any version of an AuditEvent with ErrAppendOnly.
//   - Read, VRead, History and Search note the resources and Patients
//     they return into the request's Request (WithRequest), so that the
//     interaction's AuditEvent names them. In a Bundle, each read or
//     search is recorded as its own AuditEvent.
//
// st must be the Trail's store (or the same database): the queue rows are
// written through its transactions.
func (t *Trail) Wrap(st store.Store) store.Store {
	return &auditedStore{Store: st, t: t}
}

type auditedStore struct {
	store.Store
	t *Trail
}

func (s *auditedStore) Read(ctx context.Context, typ, id string) (store.Resource, error) {
	r, err := s.Store.Read(ctx, typ, id)
	if err == nil {
		s.t.noteRead(ctx, r, "read")
	}
	return r, err
}

func (s *auditedStore) VRead(ctx context.Context, typ, id string, version int64) (store.Resource, error) {
	r, err := s.Store.VRead(ctx, typ, id, version)
	if err == nil {
		s.t.noteRead(ctx, r, "vread")
	}
	return r, err
}

func (s *auditedStore) History(ctx context.Context, q store.HistoryQuery) (store.HistoryPage, error) {
	p, err := s.Store.History(ctx, q)
	if err == nil {
		if req := RequestFrom(ctx); req != nil {
			if q.ID != "" && !req.perEntry() {
				req.addResource(q.Type + "/" + q.ID)
			}
			var patients []string
			for _, e := range p.Entries {
				patients = append(patients, s.t.patientsOf(e.Resource)...)
			}
			s.t.noteMany(ctx, req, patients)
		}
	}
	return p, err
}

func (s *auditedStore) Search(ctx context.Context, q search.Query) (search.Page, error) {
	p, err := s.Store.Search(ctx, q)
	if err == nil {
		if req := RequestFrom(ctx); req != nil {
			var patients []string
			for _, m := range p.Matches {
				patients = append(patients, s.t.patientsOf(store.Resource{Type: m.Type, ID: m.ID, Body: m.Body})...)
			}
			s.t.noteMany(ctx, req, patients)
		}
	}
	return p, err
}

// noteRead notes one resource read by id.
func (t *Trail) noteRead(ctx context.Context, r store.Resource, interaction string) {
	req := RequestFrom(ctx)
	if req == nil {
		return
	}
	ref := r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)
	patients := t.patientsOf(r)
	if req.perEntry() {
		rec := t.base(ctx, req)
		rec.kind, rec.interaction, rec.action = kindREST, interaction, "R"
		rec.resources = []resourceEntity{{ref: ref}}
		rec.patients = patients
		req.addEntry(rec)
		return
	}
	req.addResource(ref)
	req.addPatients(patients)
}

// noteMany notes the Patients of a search or history page.
func (t *Trail) noteMany(ctx context.Context, req *Request, patients []string) {
	patients = sortedUnique(patients)
	if req.perEntry() {
		rec := t.base(ctx, req)
		rec.kind, rec.interaction, rec.action = kindREST, "search-type", "E"
		rec.patients = patients
		req.addEntry(rec)
		return
	}
	req.addPatients(patients)
}

func (s *auditedStore) Write(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	var n int
	err := s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		atx, ok := tx.(store.AuditTx)
		if !ok {
			return fmt.Errorf("audit: %T keeps no audit queue", tx)
		}
		w := &auditedTx{Tx: tx, t: s.t}
		if err := fn(ctx, w); err != nil {
			return err
		}
		if w.err != nil {
			return w.err
		}
		n = w.n
		if n == 0 {
			return nil
		}
		// Every record of the transaction in one queue entry.
		return atx.QueueAudit(ctx, w.entry)
	})
	if err == nil && n > 0 {
		if req := RequestFrom(ctx); req != nil {
			req.addWritten(n)
		}
		s.t.Wake()
	}
	return err
}

// auditedTx is the Tx of an audited Write.
type auditedTx struct {
	store.Tx
	t     *Trail
	entry []byte // the queue lines of the transaction's records
	n     int    // how many
	err   error  // a refusal, which dooms the transaction
}

// refuse dooms the transaction with ErrAppendOnly.
func (w *auditedTx) refuse() error {
	if w.err == nil {
		w.err = ErrAppendOnly
	}
	return w.err
}

// Current refuses AuditEvents: a write transaction only looks at the
// current version of what it is about to change, and no AuditEvent may
// change (this refuses deleting one that does not exist, too).
func (w *auditedTx) Current(ctx context.Context, typ, id string) (store.Resource, error) {
	if typ == "AuditEvent" {
		return store.Resource{}, w.refuse()
	}
	return w.Tx.Current(ctx, typ, id)
}

// Search refuses AuditEvents: in a write transaction, a search finds what
// a conditional write will change.
func (w *auditedTx) Search(ctx context.Context, q search.Query) (search.Page, error) {
	if slices.Contains(q.Types, "AuditEvent") {
		return search.Page{}, w.refuse()
	}
	return w.Tx.Search(ctx, q)
}

// Put refuses AuditEvents, stores r, and adds the record of the write to
// the transaction's queue entry, which Write queues before committing.
func (w *auditedTx) Put(ctx context.Context, r store.Resource) error {
	if w.err != nil {
		return w.err
	}
	if r.Type == "AuditEvent" {
		return w.refuse()
	}
	var prev []string
	if r.VersionID > 1 {
		// The Patients of the version being replaced are touched too (an
		// Observation moved to another subject; a deleted resource).
		cur, err := w.Tx.Current(ctx, r.Type, r.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			prev = w.t.patientsOf(cur)
		}
	}
	if err := w.Tx.Put(ctx, r); err != nil {
		return err
	}
	entry, err := w.t.write(ctx, r, prev).encode(w.entry)
	if err != nil {
		w.err = err
		return err
	}
	w.entry = entry
	w.n++
	return nil
}
