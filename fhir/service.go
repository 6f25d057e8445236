package fhir

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/patch"
	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// Service performs FHIR interactions against a store.
type Service struct {
	Store store.Store
	// Registry knows the search parameters: it indexes every write and
	// parses searches. Nil disables search and indexing.
	Registry *search.Registry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ConditionalDeleteMultiple lets one conditional delete remove several
	// matching resources (up to MaxConditionalDelete); otherwise several
	// matches are a 412.
	ConditionalDeleteMultiple bool
	// Authorizer decides what the caller of each interaction may do (see
	// Action). Nil turns access control off: every caller may do
	// everything, which only a deliberate configuration (TELEFHIR_AUTH=off,
	// in-process components) may choose.
	Authorizer Authorizer
	// Hooks check, and may rewrite, every resource of their type (the map
	// key) before it is stored: create, update, patch and the conditional
	// forms. Set them before the Service is used.
	Hooks map[string]WriteHook
}

// WriteHook is called inside the write transaction, after the resource
// parsed and validated as R4, before it is stamped and stored. It returns
// the body to store (body itself when it changes nothing) or an error,
// typically an *outcome.Error naming the location of the problem, in which
// case nothing is stored.
type WriteHook interface {
	BeforeWrite(ctx context.Context, w HookWrite) ([]byte, error)
}

// HookWrite is one write seen by a WriteHook.
type HookWrite struct {
	Type, ID string
	// Body is the resource as the client sent it (after a patch, the
	// patched resource), without the server's id and meta stamped in.
	Body []byte
	// Previous is the current version being replaced; nil for a create
	// and when the current version is a delete.
	Previous *store.Resource
}

// Result is the outcome of a successful write.
type Result struct {
	Resource store.Resource
	// Created is true when the write brought a resource into existence (a
	// create, an update-as-create, or an update of a deleted resource).
	Created bool
	// Unchanged is true when a delete found nothing to delete.
	Unchanged bool
}

// Preconditions are the optimistic-locking conditions of a write.
type Preconditions struct {
	// IfMatch, when non-zero, is the version the client expects to be current.
	IfMatch int64
	// IfNoneMatch, when non-zero, is a version the client expects not to
	// be current (If-None-Match: W/"n"); IfNoneMatchAny expects the
	// resource not to exist at all (If-None-Match: *), making an update a
	// create-only write.
	IfNoneMatch    int64
	IfNoneMatchAny bool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// nextTimestamp returns the lastUpdated for a new version: now at
// millisecond precision, but always after the previous version's, so that
// history ordering by time agrees with version order even when clocks of
// several nodes disagree.
func (s *Service) nextTimestamp(prev time.Time) time.Time {
	t := s.now().UTC().Truncate(time.Millisecond)
	if !prev.IsZero() && !t.After(prev) {
		t = prev.Add(time.Millisecond)
	}
	return t
}

// CheckType returns a 404 outcome when typ is not an R4 resource type.
func CheckType(typ string) error {
	if !resource.IsType(typ) {
		return outcome.New(outcome.KindNotFound, "Resource type %q is not an R4 resource type supported by this server", typ)
	}
	return nil
}

// CheckID returns a 400 outcome when id is not a valid FHIR id.
func CheckID(id string) error {
	if !resource.ValidID(id) {
		return outcome.New(outcome.KindInvalid, "%q is not a valid resource id: ids are 1 to 64 characters of A-Z, a-z, 0-9, '-' and '.'", id)
	}
	return nil
}

func checkTypeID(typ, id string) error {
	if err := CheckType(typ); err != nil {
		return err
	}
	return CheckID(id)
}

// Read returns the current version of a resource: 404 when it never
// existed, 410 when its current version is a delete.
func (s *Service) Read(ctx context.Context, typ, id string) (store.Resource, error) {
	if err := checkTypeID(typ, id); err != nil {
		return store.Resource{}, err
	}
	return s.readIn(ctx, s.Store, typ, id)
}

// readIn is the read interaction on rd: the store, or an open transaction.
func (s *Service) readIn(ctx context.Context, rd store.Reader, typ, id string) (store.Resource, error) {
	g := s.guard()
	perm, err := g.require(ctx, typ, ActionRead)
	if err != nil {
		return store.Resource{}, err
	}
	r, err := rd.Read(ctx, typ, id)
	if err != nil {
		return store.Resource{}, storeError(err, typ, id)
	}
	if err := g.reveal(ctx, perm, r, storeError(store.ErrNotFound, typ, id)); err != nil {
		return store.Resource{}, err
	}
	if r.Deleted {
		return r, goneError(r)
	}
	return r, nil
}

// VRead returns one version of a resource: 404 when that version never
// existed, 410 when it is a delete marker.
func (s *Service) VRead(ctx context.Context, typ, id, version string) (store.Resource, error) {
	if err := checkTypeID(typ, id); err != nil {
		return store.Resource{}, err
	}
	return s.vreadIn(ctx, s.Store, typ, id, version)
}

// vreadIn is the vread interaction on rd.
func (s *Service) vreadIn(ctx context.Context, rd store.Reader, typ, id, version string) (store.Resource, error) {
	g := s.guard()
	perm, err := g.require(ctx, typ, ActionRead)
	if err != nil {
		return store.Resource{}, err
	}
	v, ok := ParseVersion(version)
	if !ok {
		return store.Resource{}, outcome.New(outcome.KindNotFound, "Version %q of %s/%s is not known: version ids are positive integers", version, typ, id)
	}
	notFound := outcome.New(outcome.KindNotFound, "Version %d of %s/%s is not known", v, typ, id)
	r, err := rd.VRead(ctx, typ, id, v)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Resource{}, notFound
		}
		return store.Resource{}, outcome.Internal(err)
	}
	if err := g.reveal(ctx, perm, r, notFound); err != nil {
		return store.Resource{}, err
	}
	if r.Deleted {
		return r, goneError(r)
	}
	return r, nil
}

// Create stores body as version 1 of a new resource with a server-assigned
// id. Any id or meta.versionId/lastUpdated in body is replaced.
func (s *Service) Create(ctx context.Context, typ string, body []byte) (Result, error) {
	if err := CheckType(typ); err != nil {
		return Result{}, err
	}
	if _, err := s.guard().require(ctx, typ, ActionCreate); err != nil {
		return Result{}, err
	}
	p, err := resource.Parse(body, typ)
	if err != nil {
		return Result{}, err
	}
	id := resource.NewID()
	var out Result
	err = s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		out, err = s.createIn(ctx, tx, p, id)
		return err
	})
	if err != nil {
		return Result{}, writeError(err, typ, id)
	}
	return out, nil
}

// createIn is the create interaction inside tx: p, already validated,
// becomes version 1 of p.Type/id.
func (s *Service) createIn(ctx context.Context, tx store.Tx, p *resource.Parsed, id string) (Result, error) {
	g := s.guard()
	if _, err := g.require(ctx, p.Type, ActionCreate); err != nil {
		return Result{}, err
	}
	res, err := s.version(ctx, p.Raw, p.Type, id, store.Resource{}, "POST")
	if err != nil {
		return Result{}, err
	}
	if err := g.admit(ctx, ActionCreate, res); err != nil {
		return Result{}, err
	}
	if err := tx.Put(ctx, res); err != nil {
		return Result{}, err
	}
	return Result{Resource: res, Created: true}, nil
}

// Update stores body as the next version of typ/id, creating the resource
// when it does not exist (update-as-create with a client-chosen id).
func (s *Service) Update(ctx context.Context, typ, id string, body []byte, pre Preconditions) (Result, error) {
	if err := checkTypeID(typ, id); err != nil {
		return Result{}, err
	}
	if err := s.guard().requireAny(ctx, typ, ActionUpdate, ActionCreate); err != nil {
		return Result{}, err
	}
	p, err := resource.Parse(body, typ)
	if err != nil {
		return Result{}, err
	}
	if err := checkUpdateID(p, id); err != nil {
		return Result{}, err
	}
	var out Result
	err = s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		out, err = s.updateIn(ctx, tx, p, id, pre, "PUT")
		return err
	})
	if err != nil {
		return Result{}, writeError(err, typ, id)
	}
	return out, nil
}

// checkUpdateID checks that the resource of an update carries the id of
// its URL.
func checkUpdateID(p *resource.Parsed, id string) error {
	switch {
	case p.ID == "":
		return outcome.Invalid(p.Type+".id", "The resource has no id; an update must carry the id of the URL (%q)", id)
	case p.ID != id:
		return outcome.Invalid(p.Type+".id", "The resource id %q does not match the id in the URL %q", p.ID, id)
	}
	return nil
}

// updateIn is the update interaction inside tx: p, already validated,
// becomes the next version of p.Type/id, or its first. method is the
// interaction recorded with the version: PUT, or POST when the server
// chose the id (a conditional update that creates).
func (s *Service) updateIn(ctx context.Context, tx store.Tx, p *resource.Parsed, id string, pre Preconditions, method string) (Result, error) {
	cur, found, err := current(ctx, tx, p.Type, id)
	if err != nil {
		return Result{}, err
	}
	if err := pre.check(cur, found, p.Type, id); err != nil {
		return Result{}, err
	}
	out := Result{Created: !found || cur.Deleted}
	act := writeAction(out.Created)
	g := s.guard()
	if err := g.mayChange(ctx, act, cur); err != nil {
		return Result{}, err
	}
	if out.Resource, err = s.version(ctx, p.Raw, p.Type, id, cur, method); err != nil {
		return Result{}, err
	}
	if err := g.admit(ctx, act, out.Resource); err != nil {
		return Result{}, err
	}
	if err := tx.Put(ctx, out.Resource); err != nil {
		return Result{}, err
	}
	return out, nil
}

// Patch applies a JSON Patch (RFC 6902) document to the current version of
// typ/id and stores the validated result as the next version.
func (s *Service) Patch(ctx context.Context, typ, id string, jsonPatch []byte, pre Preconditions) (Result, error) {
	return s.patchWith(ctx, typ, id, pre, jsonPatchApply(jsonPatch))
}

// jsonPatchApply is the apply function of a JSON Patch document.
func jsonPatchApply(jsonPatch []byte) func(cur []byte) ([]byte, error) {
	return func(cur []byte) ([]byte, error) {
		patched, err := patch.Apply(cur, jsonPatch)
		if err != nil {
			return nil, patchError(err)
		}
		return patched, nil
	}
}

// patchWith applies a patch (apply maps the current JSON to the patched
// JSON) to the current version of typ/id and stores the validated result
// as the next version.
func (s *Service) patchWith(ctx context.Context, typ, id string, pre Preconditions, apply func(cur []byte) ([]byte, error)) (Result, error) {
	if err := checkTypeID(typ, id); err != nil {
		return Result{}, err
	}
	if _, err := s.guard().require(ctx, typ, ActionUpdate); err != nil {
		return Result{}, err
	}
	var out Result
	err := s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		out, err = s.patchWithIn(ctx, tx, typ, id, pre, apply)
		return err
	})
	if err != nil {
		return Result{}, writeError(err, typ, id)
	}
	return out, nil
}

// patchWithIn is the patch interaction inside tx.
func (s *Service) patchWithIn(ctx context.Context, tx store.Tx, typ, id string, pre Preconditions, apply func(cur []byte) ([]byte, error)) (Result, error) {
	g := s.guard()
	if _, err := g.require(ctx, typ, ActionUpdate); err != nil {
		return Result{}, err
	}
	cur, found, err := current(ctx, tx, typ, id)
	if err != nil {
		return Result{}, err
	}
	if !found {
		return Result{}, outcome.New(outcome.KindNotFound, "Resource %s/%s is not known", typ, id)
	}
	if err := g.mayChange(ctx, ActionUpdate, cur); err != nil {
		return Result{}, err
	}
	if cur.Deleted {
		return Result{}, goneError(cur)
	}
	if err := pre.check(cur, found, typ, id); err != nil {
		return Result{}, err
	}
	patched, err := apply(cur.Body)
	if err != nil {
		return Result{}, err
	}
	p, err := resource.Parse(patched, typ)
	if err != nil {
		return Result{}, err
	}
	if p.ID != id {
		return Result{}, outcome.Invalid(typ+".id", "The patch may not change or remove the resource id")
	}
	res, err := s.version(ctx, p.Raw, typ, id, cur, "PATCH")
	if err != nil {
		return Result{}, err
	}
	if err := g.admit(ctx, ActionUpdate, res); err != nil {
		return Result{}, err
	}
	if err := tx.Put(ctx, res); err != nil {
		return Result{}, err
	}
	return Result{Resource: res}, nil
}

// Delete marks typ/id deleted by writing a delete-marker version. Deleting
// a resource that does not exist or is already deleted changes nothing and
// succeeds (Unchanged is set).
func (s *Service) Delete(ctx context.Context, typ, id string, pre Preconditions) (Result, error) {
	if err := checkTypeID(typ, id); err != nil {
		return Result{}, err
	}
	if _, err := s.guard().require(ctx, typ, ActionDelete); err != nil {
		return Result{}, err
	}
	var out Result
	err := s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		out, err = s.deleteIn(ctx, tx, typ, id, pre)
		return err
	})
	if err != nil {
		return Result{}, writeError(err, typ, id)
	}
	return out, nil
}

// deleteIn is the delete interaction inside tx.
func (s *Service) deleteIn(ctx context.Context, tx store.Tx, typ, id string, pre Preconditions) (Result, error) {
	if _, err := s.guard().require(ctx, typ, ActionDelete); err != nil {
		return Result{}, err
	}
	cur, found, err := current(ctx, tx, typ, id)
	if err != nil {
		return Result{}, err
	}
	if err := pre.check(cur, found, typ, id); err != nil {
		return Result{}, err
	}
	if !found || cur.Deleted {
		return Result{Resource: cur, Unchanged: true}, nil
	}
	return s.deleteVersion(ctx, tx, cur)
}

// deleteVersion writes the delete marker that follows cur, when the
// caller may delete cur.
func (s *Service) deleteVersion(ctx context.Context, tx store.Tx, cur store.Resource) (Result, error) {
	if err := s.guard().mayChange(ctx, ActionDelete, cur); err != nil {
		return Result{}, err
	}
	r := store.Resource{
		Type: cur.Type, ID: cur.ID, VersionID: cur.VersionID + 1,
		LastUpdated: s.nextTimestamp(cur.LastUpdated), Deleted: true, Method: "DELETE",
	}
	if err := tx.Put(ctx, r); err != nil {
		return Result{}, err
	}
	return Result{Resource: r}, nil
}

// History returns one page of history. q.Type and q.ID select the level.
func (s *Service) History(ctx context.Context, q store.HistoryQuery) (store.HistoryPage, error) {
	if q.Type != "" {
		if err := CheckType(q.Type); err != nil {
			return store.HistoryPage{}, err
		}
	}
	if q.ID != "" {
		if err := CheckID(q.ID); err != nil {
			return store.HistoryPage{}, err
		}
	}
	return s.historyIn(ctx, s.Store, q)
}

// historyIn is the history interaction on rd.
func (s *Service) historyIn(ctx context.Context, rd store.Reader, q store.HistoryQuery) (store.HistoryPage, error) {
	page, err := s.history(ctx, s.guard(), rd, q)
	if err != nil {
		return store.HistoryPage{}, err
	}
	if q.ID != "" && len(page.Entries) == 0 && page.Next == 0 && q.Before == 0 && q.Since.IsZero() && q.At.IsZero() {
		// An instance with no versions at all does not exist.
		return page, outcome.New(outcome.KindNotFound, "Resource %s/%s is not known", q.Type, q.ID)
	}
	return page, nil
}

// writeAction is what a write that does (not) create needs.
func writeAction(creates bool) Action {
	if creates {
		return ActionCreate
	}
	return ActionUpdate
}

// version runs the type's hook on raw and stamps the result as the version
// after cur (the zero Resource for a new one) of typ/id.
func (s *Service) version(ctx context.Context, raw []byte, typ, id string, cur store.Resource, method string) (store.Resource, error) {
	if h := s.Hooks[typ]; h != nil {
		w := HookWrite{Type: typ, ID: id, Body: raw}
		if cur.VersionID > 0 && !cur.Deleted {
			w.Previous = &cur
		}
		var err error
		if raw, err = h.BeforeWrite(ctx, w); err != nil {
			return store.Resource{}, err
		}
	}
	v := cur.VersionID + 1
	t := s.nextTimestamp(cur.LastUpdated)
	b, err := resource.Stamp(raw, id, v, t)
	if err != nil {
		return store.Resource{}, outcome.Wrap(outcome.KindInvalid, err, "The resource could not be stored: %v", err)
	}
	var idx *search.Index
	if s.Registry != nil {
		if idx, err = s.Registry.ExtractJSON(typ, b); err != nil {
			return store.Resource{}, outcome.Wrap(outcome.KindInternal, err, "the resource could not be indexed")
		}
	}
	return store.Resource{Type: typ, ID: id, VersionID: v, LastUpdated: t, Method: method, Body: b, Index: idx}, nil
}

// current reads and locks typ/id inside tx; found is false when it never
// existed (cur is then the zero version).
func current(ctx context.Context, tx store.Tx, typ, id string) (cur store.Resource, found bool, err error) {
	cur, err = tx.Current(ctx, typ, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Resource{Type: typ, ID: id}, false, nil
	case err != nil:
		return cur, false, err
	}
	return cur, true, nil
}

func (p Preconditions) check(cur store.Resource, found bool, typ, id string) error {
	exists := found && !cur.Deleted
	switch {
	case p.IfNoneMatchAny && exists:
		return outcome.New(outcome.KindPreconditionFailed, "If-None-Match: * asks that %s/%s not exist, but it does (version %d)", typ, id, cur.VersionID)
	case p.IfNoneMatch != 0 && exists && cur.VersionID == p.IfNoneMatch:
		return outcome.New(outcome.KindPreconditionFailed, "If-None-Match names version %d of %s/%s, which is the current version", p.IfNoneMatch, typ, id)
	}
	if p.IfMatch == 0 {
		return nil
	}
	if !exists {
		return outcome.New(outcome.KindPreconditionFailed, "If-Match names version %d of %s/%s, but the resource does not exist", p.IfMatch, typ, id)
	}
	if cur.VersionID != p.IfMatch {
		return outcome.New(outcome.KindPreconditionFailed, "If-Match names version %d of %s/%s, but the current version is %d", p.IfMatch, typ, id, cur.VersionID)
	}
	return nil
}

// ParsePreconditions reads the If-Match and If-None-Match of a write (HTTP
// headers, or a Bundle entry's request.ifMatch and request.ifNoneMatch):
// version ETags such as W/"3", and * for If-None-Match.
func ParsePreconditions(ifMatch, ifNoneMatch string) (Preconditions, error) {
	var p Preconditions
	if v := strings.TrimSpace(ifMatch); v != "" {
		n, ok := ParseETag(v)
		if !ok {
			return p, outcome.New(outcome.KindInvalid, `If-Match must be a version ETag such as W/"3", not %q`, v)
		}
		p.IfMatch = n
	}
	switch v := strings.TrimSpace(ifNoneMatch); v {
	case "":
	case "*":
		p.IfNoneMatchAny = true
	default:
		n, ok := ParseETag(v)
		if !ok {
			return p, outcome.New(outcome.KindInvalid, `If-None-Match on a write must be * or a version ETag such as W/"3", not %q`, v)
		}
		p.IfNoneMatch = n
	}
	return p, nil
}

// ParseETag parses a version ETag: W/"n", "n" or a bare n.
func ParseETag(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "W/")
	v = strings.Trim(v, `"`)
	return ParseVersion(v)
}

// NotModified evaluates the If-None-Match (version ETags or *) and
// If-Modified-Since (an HTTP date) of a read against r, the version it
// would return: true means 304 Not Modified. If-None-Match takes
// precedence.
func NotModified(ifNoneMatch, ifModifiedSince string, r store.Resource) bool {
	if ifNoneMatch != "" {
		for _, part := range strings.Split(ifNoneMatch, ",") {
			part = strings.TrimSpace(part)
			if part == "*" {
				return true
			}
			if n, ok := ParseETag(part); ok && n == r.VersionID {
				return true
			}
		}
		return false
	}
	if ifModifiedSince != "" {
		t, err := http.ParseTime(ifModifiedSince)
		if err == nil && !r.LastUpdated.Truncate(time.Second).After(t) {
			return true
		}
	}
	return false
}

// ParseVersion parses a version id (a positive integer).
func ParseVersion(s string) (int64, bool) {
	var v int64
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, v > 0
}

func goneError(r store.Resource) error {
	return outcome.New(outcome.KindGone, "Resource %s/%s was deleted (version %d)", r.Type, r.ID, r.VersionID)
}

func storeError(err error, typ, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return outcome.New(outcome.KindNotFound, "Resource %s/%s is not known", typ, id)
	}
	return outcome.Internal(err)
}

// writeError passes outcome errors through and maps store errors.
func writeError(err error, typ, id string) error {
	var oe *outcome.Error
	switch {
	case errors.As(err, &oe):
		return oe
	case errors.Is(err, store.ErrConflict):
		return outcome.Wrap(outcome.KindConflict, err, "%s/%s is being changed by another request; retry", typ, id)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return outcome.Wrap(outcome.KindInternal, err, "the request was cancelled before it completed")
	}
	return outcome.Internal(err)
}

func patchError(err error) error {
	var pe *patch.Error
	if !errors.As(err, &pe) {
		return outcome.Wrap(outcome.KindInvalid, err, "invalid JSON Patch")
	}
	k := outcome.KindInvalid
	switch {
	case errors.Is(err, patch.ErrTestFailed), errors.Is(err, patch.ErrPathNotFound):
		// Well-formed, but it cannot be applied to this version.
		k = outcome.KindUnprocessable
	case errors.Is(err, patch.ErrTooLarge):
		k = outcome.KindTooLarge
	case errors.Is(err, patch.ErrInvalidDocument):
		k = outcome.KindInternal
	}
	return outcome.Wrap(k, err, "%s", pe.Error())
}
