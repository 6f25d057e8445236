package fhir

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/telefhir/telefhir/fhir/fhirpatch"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/store"
)

// BundleOptions tune the GET entries of a Bundle, as the same request
// parameters tune a search or history on its own.
type BundleOptions struct {
	// DefaultCount and MaxCount bound the pages of search and history
	// entries.
	DefaultCount, MaxCount int
	// Strict is Prefer: handling=strict for search entries.
	Strict bool
}

// EntryResult is the outcome of one Bundle entry.
type EntryResult struct {
	// Status is the HTTP status of the entry's interaction.
	Status int
	// Resource is the version written (a delete marker for a delete) or
	// read. It is zero for searches, histories, conditional deletes and
	// deletes that found nothing.
	Resource store.Resource
	// Search is the page of a search or $everything entry.
	Search *SearchResult
	// History is the page of a history entry.
	History *store.HistoryPage
	// Deleted are the delete markers of a conditional delete.
	Deleted []store.Resource
	// Err is why a batch entry failed (Status is its status). The entries
	// of a transaction never fail on their own: Transaction fails.
	Err *outcome.Error
}

// Transaction processes a transaction Bundle: every entry, or none, in
// one store transaction, in the order of the FHIR rules (DELETE, then
// POST, then PUT and PATCH, then GET and HEAD), each through the same
// internal function as the interaction on its own.
//
// The fullUrls of the entries that POST or PUT are replaced, in every
// resource of the Bundle, by the identity the entry ends up with (see
// resource.RewriteLinks for where), and conditional references
// (Patient?identifier=...) by the one resource their search finds. Every
// entry's resource is validated before the transaction starts, with its
// links in place; conditional creates, updates and deletes and
// conditional references are resolved inside it.
//
// Any failure leaves the store as it was and comes back as an
// *outcome.Error located at the failing entry
// (Bundle.entry[3].resource.name[0]); otherwise the results are in entry
// order.
func (s *Service) Transaction(ctx context.Context, b *Bundle, opts BundleOptions) ([]EntryResult, error) {
	if b.Type != BundleTransaction {
		return nil, outcome.Invalid("Bundle.type", "Transaction processes transaction Bundles, not %s", quoteValue(b.Type))
	}
	t, err := s.prepare(b.Entries, nil)
	if err != nil {
		return nil, err
	}
	var results []EntryResult
	err = s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		results, err = t.run(ctx, tx, opts)
		return err
	})
	if err != nil {
		return nil, bundleError(err)
	}
	return results, nil
}

// Batch processes a batch Bundle: each entry on its own, as if it were
// sent alone, in entry order. A write entry is one store transaction (a
// transaction of that entry alone, so its conditional references resolve
// inside it); an entry that refers to another entry's fullUrl fails,
// since batch entries may not depend on each other. Failures are in the
// results (Err), never an error.
func (s *Service) Batch(ctx context.Context, b *Bundle, opts BundleOptions) []EntryResult {
	others := make(map[string]int, len(b.Entries))
	for _, e := range b.Entries {
		if e.FullURL != "" {
			others[e.FullURL] = e.Index
		}
	}
	results := make([]EntryResult, len(b.Entries))
	for i := range b.Entries {
		results[i] = s.batchEntry(ctx, &b.Entries[i], others, opts)
	}
	return results
}

func (s *Service) batchEntry(ctx context.Context, e *Entry, others map[string]int, opts BundleOptions) EntryResult {
	t, err := s.prepare([]Entry{*e}, others)
	var res []EntryResult
	switch {
	case err != nil:
	case e.Request.Method == "GET" || e.Request.Method == "HEAD":
		var r EntryResult
		r, err = t.get(ctx, s.Store, t.entries[0], opts)
		res = []EntryResult{r}
	default:
		err = s.Store.Write(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			res, err = t.run(ctx, tx, opts)
			return err
		})
	}
	if err != nil {
		oe := outcome.From(bundleError(err))
		return EntryResult{Status: oe.Status(), Err: oe}
	}
	return res[0]
}

// bundleError maps what a Bundle's store transaction returned to an
// outcome. The entry errors are located already.
func bundleError(err error) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return outcome.Wrap(outcome.KindConflict, err, "The Bundle collided with concurrent changes to the same resources and was not applied; send it again")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return outcome.Wrap(outcome.KindInternal, err, "the request was cancelled before it completed")
	}
	return outcome.From(err)
}

// txn is a Bundle's entries prepared for processing: requests parsed,
// resources validated with their links, ids chosen where no search is
// needed. run may be called several times (the store retries conflicts);
// it keeps its per-attempt state to itself.
type txn struct {
	s       *Service
	entries []*txEntry
	// links maps the fullUrls of the entries that POST or PUT to the
	// reference that replaces them: "Type/id", with a provisional id for
	// entries whose id a search inside the transaction decides.
	links map[string]string
	// provisional maps those provisional references to their entry (its
	// position in entries).
	provisional map[string]int
	// condRefs are the distinct conditional references of all resources,
	// sorted, and condRefAt where the first resource holding each is.
	condRefs  []string
	condRefAt map[string]string
}

// txEntry is one entry prepared.
type txEntry struct {
	*Entry
	pos int // in txn.entries
	typ string
	// id is the target's id when known before the transaction: the new id
	// of a POST, the id in the URL of PUT, PATCH and DELETE. pending is
	// set when a search inside the transaction decides it (conditional
	// create, update, delete).
	id      string
	pending bool
	// criteria are the conditions of a conditional interaction.
	criteria url.Values
	pre      Preconditions
	// parsed is the resource of a POST or PUT, validated, with the links
	// the Bundle defines in place; dependent is set when they include a
	// provisional reference, so that the transaction must rewrite it.
	parsed    *resource.Parsed
	dependent bool
	// patch applies the patch of a PATCH entry (a JSON Patch in a Binary,
	// or a FHIRPath Patch Parameters) to the current JSON.
	patch func(cur []byte) ([]byte, error)
}

// prepare does the work that needs no database: it checks and parses
// every entry, chooses ids, replaces links and validates the resources.
// others, for a batch, are the fullUrls of all the Bundle's entries, which
// an entry may not refer to.
func (s *Service) prepare(entries []Entry, others map[string]int) (*txn, error) {
	t := &txn{s: s, links: map[string]string{}, provisional: map[string]int{}, condRefAt: map[string]string{}}
	known := map[string]int{} // Type/id → entry, of the targets known now
	for i := range entries {
		e := &txEntry{Entry: &entries[i], pos: i, typ: entries[i].Target.Type}
		t.entries = append(t.entries, e)
		if err := t.prepareRequest(e); err != nil {
			return nil, err
		}
		if e.id != "" && e.Request.Method != "POST" && e.Request.Method != "GET" && e.Request.Method != "HEAD" {
			key := e.typ + "/" + e.id
			if j, dup := known[key]; dup {
				return nil, overlapError(e.Entry, key, j)
			}
			known[key] = e.Index
		}
		if e.FullURL == "" {
			continue
		}
		switch e.Request.Method {
		case "POST", "PUT":
			ref := e.typ + "/" + e.id
			if e.pending {
				ref = e.typ + "/" + provisionalID(len(t.provisional))
				t.provisional[ref] = i
			}
			t.links[e.FullURL] = ref
		}
	}
	if err := t.prepareResources(others); err != nil {
		return nil, err
	}
	return t, nil
}

// provisionalID is the stand-in id of the n-th provisional reference (n =
// len(entries) for conditional references), used while the resources are
// validated: a valid id that no server-assigned id (a UUID) can be.
func provisionalID(n int) string { return "provisional." + strconv.Itoa(n) }

func overlapError(e *Entry, key string, other int) error {
	return outcome.Invalid(e.Where("request.url"), "%s is changed by entry %d too: a transaction may change each resource once", key, other)
}

// prepareRequest reads the entry's request: conditions, preconditions,
// the id and the PATCH document.
func (t *txn) prepareRequest(e *txEntry) error {
	req := e.Request
	switch req.Method {
	case "GET", "HEAD":
		return nil
	case "POST":
		if req.IfNoneExist == "" {
			e.id = resource.NewID()
			return nil
		}
		q := req.IfNoneExist
		if i := strings.IndexByte(q, '?'); i >= 0 {
			q = q[i+1:] // "Patient?identifier=..." as well as "identifier=..."
		}
		criteria, err := url.ParseQuery(q)
		if err != nil || len(criteria) == 0 {
			return outcome.Invalid(e.Where("request.ifNoneExist"), "ifNoneExist must be search parameters such as identifier=urn:mrn|123, not %s", quoteValue(req.IfNoneExist))
		}
		e.criteria, e.pending = criteria, true
		return nil
	}
	ifMatch, err := ParsePreconditions(req.IfMatch, "")
	if err != nil {
		return outcome.From(err).Locate(func(string) string { return e.Where("request.ifMatch") })
	}
	ifNoneMatch, err := ParsePreconditions("", req.IfNoneMatch)
	if err != nil {
		return outcome.From(err).Locate(func(string) string { return e.Where("request.ifNoneMatch") })
	}
	e.pre = Preconditions{IfMatch: ifMatch.IfMatch, IfNoneMatch: ifNoneMatch.IfNoneMatch, IfNoneMatchAny: ifNoneMatch.IfNoneMatchAny}
	if e.Target.Conditional {
		if len(e.Target.Query) == 0 {
			return outcome.Invalid(e.Where("request.url"), "A conditional %s needs search criteria after the ?", req.Method)
		}
		e.criteria, e.pending = e.Target.Query, true
	} else {
		e.id = e.Target.ID
	}
	if req.Method == "PATCH" {
		p, err := patchOf(e.Entry)
		if err != nil {
			return err
		}
		e.patch = p
	}
	return nil
}

// patchOf reads the patch a PATCH entry carries: a FHIRPath Patch
// (Parameters), or a JSON Patch document in a Binary resource.
func patchOf(e *Entry) (func(cur []byte) ([]byte, error), error) {
	var bin struct {
		ResourceType string `json:"resourceType"`
		ContentType  string `json:"contentType"`
		Data         string `json:"data"`
	}
	if err := json.Unmarshal(e.Resource, &bin); err != nil {
		return nil, outcome.Wrap(outcome.KindInvalid, err, "The resource of a PATCH entry must be a Binary holding a JSON Patch").Locate(func(string) string { return e.Where("resource") })
	}
	switch bin.ResourceType {
	case "Binary":
	case "Parameters":
		p, err := fhirpatch.Parse(e.Resource)
		if err != nil {
			return nil, locate(e, err, "resource")
		}
		return p.Apply, nil
	default:
		return nil, outcome.Invalid(e.Where("resource"), "A PATCH entry carries its JSON Patch in a Binary resource, not a %s", quoteValue(bin.ResourceType))
	}
	if ct := strings.TrimSpace(strings.SplitN(bin.ContentType, ";", 2)[0]); ct != "application/json-patch+json" {
		return nil, outcome.Invalid(e.Where("resource.contentType"), "The Binary of a PATCH entry must have contentType application/json-patch+json, not %s", quoteValue(bin.ContentType))
	}
	doc, err := base64.StdEncoding.DecodeString(bin.Data)
	if err != nil || len(doc) == 0 {
		return nil, outcome.Invalid(e.Where("resource.data"), "The Binary of a PATCH entry must hold the JSON Patch document, base64-encoded")
	}
	return jsonPatchApply(doc), nil
}

// prepareResources replaces the links in the resources of POST and PUT
// entries and validates them, several at a time, reporting the failure of
// the first failing entry.
func (t *txn) prepareResources(others map[string]int) error {
	var work []*txEntry
	for _, e := range t.entries {
		if e.Request.Method == "POST" || e.Request.Method == "PUT" {
			work = append(work, e)
		}
	}
	errs := make([]error, len(work))
	condRefs := make([][]string, len(work))
	prepare := func(i int) {
		condRefs[i], errs[i] = t.prepareResource(work[i], others)
	}
	if len(work) < 8 {
		for i := range work {
			prepare(i)
		}
	} else {
		var g errgroup.Group
		g.SetLimit(runtime.GOMAXPROCS(0))
		for i := range work {
			g.Go(func() error { prepare(i); return nil })
		}
		_ = g.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for i, refs := range condRefs {
		for _, r := range refs {
			if _, seen := t.condRefAt[r]; !seen {
				t.condRefAt[r] = work[i].Where("resource")
				t.condRefs = append(t.condRefs, r)
			}
		}
	}
	slices.Sort(t.condRefs)
	return nil
}

// prepareResource replaces the links of e's resource, validates it, and
// returns the conditional references it holds.
func (t *txn) prepareResource(e *txEntry, others map[string]int) (condRefs []string, err error) {
	base := entryBase(e.FullURL)
	var refErr error
	raw, err := resource.RewriteLinks(e.Resource, func(kind resource.LinkKind, link string) (string, bool) {
		if kind == resource.LinkReference {
			if typ, ok := conditionalReference(link); ok {
				condRefs = append(condRefs, link)
				e.dependent = true
				return typ + "/" + provisionalID(len(t.entries)), true
			}
		}
		ref, ok := t.lookup(base, link)
		if !ok && others != nil {
			if j, found := others[link]; found && j != e.Index && refErr == nil {
				refErr = outcome.Invalid(e.Where("resource"), "The resource refers to %s, the fullUrl of entry %d: batch entries are processed independently and cannot refer to each other; send a transaction", quoteValue(link), j)
			}
		}
		if _, prov := t.provisional[ref]; ok && prov {
			e.dependent = true
		}
		return ref, ok
	})
	if err != nil {
		// Not a resource RewriteLinks can walk: Parse says what is wrong.
		if _, perr := resource.Parse(e.Resource, e.typ); perr != nil {
			return nil, locate(e.Entry, perr, "")
		}
		return nil, outcome.Wrap(outcome.KindInvalid, err, "%s: the resource could not be read", e.Where("resource")).Locate(func(string) string { return e.Where("resource") })
	}
	if refErr != nil {
		return nil, refErr
	}
	p, err := resource.Parse(raw, e.typ)
	if err != nil {
		return nil, locate(e.Entry, err, "")
	}
	if e.Request.Method == "PUT" && !e.pending {
		if err := checkUpdateID(p, e.id); err != nil {
			return nil, locate(e.Entry, err, "")
		}
	}
	e.parsed = p
	return condRefs, nil
}

// lookup finds the reference that replaces link: the link is a fullUrl of
// the Bundle, or a relative Type/id that is one when resolved against
// base, the server part of the referring entry's own fullUrl.
func (t *txn) lookup(base, link string) (string, bool) {
	if ref, ok := t.links[link]; ok {
		return ref, true
	}
	if base != "" && !strings.Contains(link, ":") {
		if ref, ok := t.links[base+"/"+link]; ok {
			return ref, true
		}
	}
	return "", false
}

// entryBase is the base of an http(s) fullUrl that ends in Type/id
// ("http://example.org/fhir" for "http://example.org/fhir/Patient/1"),
// against which relative references in its resource resolve.
func entryBase(fullURL string) string {
	if !strings.HasPrefix(fullURL, "http://") && !strings.HasPrefix(fullURL, "https://") {
		return ""
	}
	i := strings.LastIndexByte(fullURL, '/')
	if i < 0 {
		return ""
	}
	j := strings.LastIndexByte(fullURL[:i], '/')
	if j < 0 || !resource.IsType(fullURL[j+1:i]) {
		return ""
	}
	return fullURL[:j]
}

// conditionalReference reports whether link is a conditional reference
// (Type?criteria) and returns its type.
func conditionalReference(link string) (string, bool) {
	typ, query, ok := strings.Cut(link, "?")
	if !ok || query == "" || !resource.IsType(typ) {
		return "", false
	}
	return typ, true
}

// locate places err, from the processing of e, in the Bundle: resource
// paths (Patient.name[0]) under Bundle.entry[i].resource, and an error
// without a location at the entry's part (the entry itself when part is
// empty). Errors that are not outcomes pass unchanged: a conflict must
// reach the store's retry as it is.
func locate(e *Entry, err error, part string) error {
	var oe *outcome.Error
	if !errors.As(err, &oe) {
		return err
	}
	typ := e.Target.Type
	return oe.Locate(func(x string) string {
		switch {
		case x == "":
			return e.Where(part)
		case typ != "" && (x == typ || strings.HasPrefix(x, typ+".") || strings.HasPrefix(x, typ+"[")):
			return e.Where("resource") + x[len(typ):]
		}
		return e.Where("resource." + x)
	})
}

// attempt is the state of one run.
type attempt struct {
	ids     []string          // per entry: the id it ends up with
	methods []string          // per conditional update: the method to record
	matched []*store.Resource // per entry: the match a conditional create found
	refs    map[string]string // conditional reference → Type/id
	touched map[string]int    // Type/id changed → entry index
}

// run processes the entries inside tx.
func (t *txn) run(ctx context.Context, tx store.Tx, opts BundleOptions) ([]EntryResult, error) {
	s := t.s
	n := len(t.entries)
	a := &attempt{ids: make([]string, n), methods: make([]string, n), matched: make([]*store.Resource, n), refs: map[string]string{}, touched: map[string]int{}}
	results := make([]EntryResult, n)
	if err := t.lockTargets(ctx, tx); err != nil {
		return nil, err
	}
	// 1. DELETE.
	for i, e := range t.entries {
		if e.Request.Method != "DELETE" {
			continue
		}
		if e.pending {
			deleted, err := s.conditionalDeleteIn(ctx, tx, e.typ, e.criteria)
			if err != nil {
				return nil, locate(e.Entry, err, "request.url")
			}
			for _, d := range deleted {
				if err := a.touch(e.Entry, d.Type+"/"+d.ID); err != nil {
					return nil, err
				}
			}
			results[i] = EntryResult{Status: http.StatusNoContent, Deleted: deleted}
			continue
		}
		res, err := s.deleteIn(ctx, tx, e.typ, e.id, e.pre)
		if err != nil {
			return nil, locate(e.Entry, err, "")
		}
		if err := a.touch(e.Entry, e.typ+"/"+e.id); err != nil {
			return nil, err
		}
		results[i] = EntryResult{Status: http.StatusNoContent}
		if !res.Unchanged {
			results[i].Resource = res.Resource
		}
	}
	// 2. The identities searches decide, now that the deletes are done.
	if err := t.resolve(ctx, tx, a); err != nil {
		return nil, err
	}
	// 3. POST, then 4. PUT and PATCH.
	for _, method := range []string{"POST", "PUT"} {
		for i, e := range t.entries {
			m := e.Request.Method
			if m != method && (method != "PUT" || m != "PATCH") {
				continue
			}
			res, err := t.write(ctx, tx, e, a)
			if err != nil {
				return nil, err
			}
			results[i] = res
		}
	}
	// 5. GET and HEAD, seeing the writes.
	for i, e := range t.entries {
		if e.Request.Method != "GET" && e.Request.Method != "HEAD" {
			continue
		}
		res, err := t.get(ctx, tx, e, opts)
		if err != nil {
			return nil, err
		}
		results[i] = res
	}
	return results, nil
}

// lockTargets locks the resources the Bundle changes by id, in one order
// for every transaction, so that two transactions changing the same
// resources wait for each other instead of deadlocking.
func (t *txn) lockTargets(ctx context.Context, tx store.Tx) error {
	var keys [][2]string
	for _, e := range t.entries {
		switch e.Request.Method {
		case "PUT", "PATCH", "DELETE":
			if !e.pending {
				keys = append(keys, [2]string{e.typ, e.id})
			}
		}
	}
	if len(keys) < 2 {
		return nil
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"/"+a[1], b[0]+"/"+b[1]) })
	for _, k := range keys {
		if _, err := tx.Current(ctx, k[0], k[1]); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// resolve runs the searches of conditional creates, conditional updates
// and conditional references, and records the identities every writing
// entry ends up with.
func (t *txn) resolve(ctx context.Context, tx store.Tx, a *attempt) error {
	s := t.s
	for i, e := range t.entries {
		switch {
		case e.Request.Method == "POST" && e.pending:
			match, found, err := s.existingMatch(ctx, tx, e.typ, e.criteria)
			if err != nil {
				return locate(e.Entry, err, "request.ifNoneExist")
			}
			a.ids[i] = resource.NewID()
			if found {
				a.ids[i], a.matched[i] = match.ID, &match
			}
		case e.Request.Method == "PUT" && e.pending:
			id, method, err := s.updateTarget(ctx, tx, e.parsed, e.criteria)
			if err != nil {
				return locate(e.Entry, err, "request.url")
			}
			a.ids[i], a.methods[i] = id, method
		default:
			a.ids[i] = e.id
		}
	}
	for _, cr := range t.condRefs {
		target, err := t.conditionalTarget(ctx, tx, cr)
		if err != nil {
			return err
		}
		a.refs[cr] = target
	}
	for i, e := range t.entries {
		switch e.Request.Method {
		case "POST", "PUT", "PATCH":
			if err := a.touch(e.Entry, e.typ+"/"+a.ids[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// conditionalTarget resolves a conditional reference to the one resource
// its search finds.
func (t *txn) conditionalTarget(ctx context.Context, tx store.Tx, cr string) (string, error) {
	typ, query, _ := strings.Cut(cr, "?")
	where := t.condRefAt[cr]
	criteria, err := url.ParseQuery(query)
	if err != nil {
		return "", outcome.Invalid(where, "The conditional reference %s cannot be parsed: %v", quoteValue(cr), err)
	}
	matches, err := t.s.conditionalMatches(ctx, tx, typ, criteria, 2)
	if err != nil {
		var oe *outcome.Error
		if errors.As(err, &oe) {
			return "", oe.Locate(func(string) string { return where })
		}
		return "", err
	}
	switch len(matches) {
	case 1:
		return typ + "/" + matches[0].ID, nil
	case 0:
		return "", outcome.At(outcome.KindPreconditionFailed, where, "The conditional reference %s matches no %s", quoteValue(cr), typ)
	}
	return "", outcome.At(outcome.KindPreconditionFailed, where, "The conditional reference %s matches more than one %s", quoteValue(cr), typ)
}

func (a *attempt) touch(e *Entry, key string) error {
	if j, dup := a.touched[key]; dup && j != e.Index {
		return overlapError(e, key, j)
	}
	a.touched[key] = e.Index
	return nil
}

// write processes a POST, PUT or PATCH entry.
func (t *txn) write(ctx context.Context, tx store.Tx, e *txEntry, a *attempt) (EntryResult, error) {
	s := t.s
	id := a.ids[e.pos]
	if e.Request.Method == "PATCH" {
		res, err := s.patchWithIn(ctx, tx, e.typ, id, e.pre, e.patch)
		if err != nil {
			return EntryResult{}, locate(e.Entry, err, "")
		}
		return EntryResult{Status: http.StatusOK, Resource: res.Resource}, nil
	}
	p, err := t.final(e, a)
	if err != nil {
		return EntryResult{}, err
	}
	if e.Request.Method == "POST" {
		if m := a.matched[e.pos]; m != nil {
			return EntryResult{Status: http.StatusOK, Resource: *m}, nil
		}
		res, err := s.createIn(ctx, tx, p, id)
		if err != nil {
			return EntryResult{}, locate(e.Entry, err, "")
		}
		return EntryResult{Status: http.StatusCreated, Resource: res.Resource}, nil
	}
	method := "PUT"
	if e.pending {
		method = a.methods[e.pos]
	}
	res, err := s.updateIn(ctx, tx, p, id, e.pre, method)
	if err != nil {
		return EntryResult{}, locate(e.Entry, err, "")
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	return EntryResult{Status: status, Resource: res.Resource}, nil
}

// final is e's resource with the links this attempt resolved.
func (t *txn) final(e *txEntry, a *attempt) (*resource.Parsed, error) {
	if !e.dependent {
		return e.parsed, nil
	}
	base := entryBase(e.FullURL)
	raw, err := resource.RewriteLinks(e.Resource, func(kind resource.LinkKind, link string) (string, bool) {
		if kind == resource.LinkReference {
			if _, ok := conditionalReference(link); ok {
				return a.refs[link], true
			}
		}
		ref, ok := t.lookup(base, link)
		if !ok {
			return "", false
		}
		if pos, prov := t.provisional[ref]; prov {
			return t.entries[pos].typ + "/" + a.ids[pos], true
		}
		return ref, true
	})
	if err != nil {
		return nil, locate(e.Entry, outcome.Wrap(outcome.KindInternal, err, "the resource could not be rewritten"), "")
	}
	return &resource.Parsed{Type: e.parsed.Type, ID: e.parsed.ID, Raw: raw}, nil
}

// get processes a GET or HEAD entry on rd: the transaction, after its
// writes, or the store for a batch.
func (t *txn) get(ctx context.Context, rd store.Reader, e *txEntry, opts BundleOptions) (EntryResult, error) {
	s := t.s
	tg := e.Target
	fail := func(err error) (EntryResult, error) { return EntryResult{}, locate(e.Entry, err, "request.url") }
	read := func(r store.Resource, err error) (EntryResult, error) {
		if err != nil {
			return fail(err)
		}
		if NotModified(e.Request.IfNoneMatch, e.Request.IfModifiedSince, r) {
			return EntryResult{Status: http.StatusNotModified, Resource: store.Resource{Type: r.Type, ID: r.ID, VersionID: r.VersionID, LastUpdated: r.LastUpdated}}, nil
		}
		return EntryResult{Status: http.StatusOK, Resource: r}, nil
	}
	switch {
	case tg.Version != "":
		return read(s.vreadIn(ctx, rd, tg.Type, tg.ID, tg.Version))
	case tg.History:
		q, err := ParseHistoryParams(tg.Query, opts.DefaultCount, opts.MaxCount)
		if err != nil {
			return fail(err)
		}
		q.Type, q.ID = tg.Type, tg.ID
		page, err := s.historyIn(ctx, rd, q)
		if err != nil {
			return fail(err)
		}
		return EntryResult{Status: http.StatusOK, History: &page}, nil
	case tg.Operation != "":
		res, err := s.everythingIn(ctx, rd, EverythingRequest{ID: tg.ID, Params: tg.Query, DefaultCount: opts.DefaultCount, MaxCount: opts.MaxCount})
		if err != nil {
			return fail(err)
		}
		return EntryResult{Status: http.StatusOK, Search: &res}, nil
	case tg.ID != "":
		return read(s.readIn(ctx, rd, tg.Type, tg.ID))
	}
	res, err := s.searchIn(ctx, rd, SearchRequest{
		Type: tg.Type, Params: tg.Query, Compartment: tg.Compartment, Strict: opts.Strict,
		DefaultCount: opts.DefaultCount, MaxCount: opts.MaxCount,
	})
	if err != nil {
		return fail(err)
	}
	return EntryResult{Status: http.StatusOK, Search: &res}, nil
}

// StatusLine is the entry.response.status of a status code: "201 Created".
func StatusLine(status int) string {
	return fmt.Sprintf("%d %s", status, http.StatusText(status))
}
