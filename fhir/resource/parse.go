package resource

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/telefhir/telefhir/fhir/outcome"
)

// MaxIssues is the most issues one Parse error carries; the rest are
// summarised in a final issue.
const MaxIssues = 100

// Parsed is a resource that passed Parse.
type Parsed struct {
	// Type is the resourceType.
	Type string
	// ID is the id as sent; empty when the resource has none.
	ID string
	// Raw is the body as given to Parse (not copied).
	Raw []byte
}

// unmarshaller validates (required fields, reference types, primitive
// formats) as well as parses. It holds no per-call state, so one serves
// every goroutine.
var unmarshaller = func() *jsonformat.Unmarshaller {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		panic(fmt.Sprintf("resource: jsonformat.NewUnmarshaller: %v", err))
	}
	return u
}()

// Parse parses body as an R4 resource and validates its structure. If
// wantType is not empty, the resourceType must equal it.
//
// Malformed JSON (including nesting deeper than MaxDepth and duplicate
// property names) is an outcome.KindStructure error that gives the byte
// offset, line and column. Every other problem is an outcome.KindInvalid
// error with one issue per problem found, each located by a FHIRPath
// expression such as Patient.name[0].given[1]. Inline resources
// (Bundle.entry.resource, contained, Parameters.parameter.resource, …) are
// validated as resources of their own type, at their location.
func Parse(body []byte, wantType string) (*Parsed, error) {
	s := getScanner(body, false)
	defer putScanner(s)
	if !s.run() {
		return nil, structureError(body, s.fail)
	}
	if !s.rootObj {
		return nil, outcome.New(outcome.KindInvalid, "a resource must be a JSON object")
	}
	root := rootRecord(s)
	switch {
	case root == nil:
		return nil, outcome.New(outcome.KindInvalid, "the resource has no resourceType")
	case !root.typOK:
		return nil, outcome.New(outcome.KindInvalid, "resourceType must be a JSON string")
	case !IsType(root.typ):
		return nil, outcome.New(outcome.KindInvalid, "unknown resource type %s (not an R4 resource type)", quoteName(root.typ))
	case wantType != "" && root.typ != wantType:
		return nil, outcome.New(outcome.KindInvalid, "resourceType %s does not match the expected type %s", quoteName(root.typ), quoteName(wantType))
	}
	p := &Parsed{Type: root.typ, Raw: body}
	if s.idVal.end > 0 {
		p.ID = s.unquote(s.idVal, s.idEsc)
	}

	var issues []outcome.Issue
	for _, si := range s.issues {
		issues = append(issues, issue("structure", root.typ+si.path, si.msg))
	}
	more, complete, err := validate(s, root)
	if err != nil {
		return nil, err
	}
	issues = append(issues, more...)
	if len(issues) > 0 {
		return nil, invalid(issues, s.dropped, complete)
	}
	return p, nil
}

// rootRecord returns the record of the root object, if it has a
// resourceType. Records are in post-order, so it is the last one.
func rootRecord(s *scanner) *record {
	if n := len(s.recs); n > 0 && s.recs[n-1].path == "" {
		return &s.recs[n-1]
	}
	return nil
}

// unit is one resource handed to the library on its own: the root, or an
// inline resource at a place that holds one.
type unit struct {
	rec    *record
	prefix string // FHIRPath of the resource: "Bundle.entry[0].resource"
}

// Placeholders stand in, in its parent's JSON, for an inline resource that is
// validated on its own. Device has no required elements, so the library
// accepts it where a ContainedResource is expected; a non-contained Any
// (Parameters.parameter.resource) takes an empty object.
const (
	placeholderResource = `{"resourceType":"Device"}`
	placeholderAny      = `{}`
)

// validate runs the library over the root and every inline resource, each
// with its own JSON, and returns their issues.
//
// The library cannot be given a document with inline resources as is:
// it rejects Parameters.parameter.resource ("unknown field"), never
// validates contained resources (they become Any protos, which its
// validator does not open), and reports paths with the nested resource's
// type spliced in. So each inline resource is cut out of its parent's JSON
// (replaced by a placeholder) and validated separately with its location as
// prefix.
//
// It stops early (complete is false) once it has far more issues than
// are reported. A panic in the library becomes an internal error.
func validate(s *scanner, root *record) (issues []outcome.Issue, complete bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = outcome.Internal(fmt.Errorf("resource: jsonformat panicked: %v", r))
		}
	}()
	units, edits := plan(s, root)
	for i, u := range units {
		issues = append(issues, u.validate(s.b, edits)...)
		if len(issues) > 4*MaxIssues && i < len(units)-1 {
			return issues, false, nil
		}
	}
	return issues, true, nil
}

// plan decides which records are inline resources in a place that holds one
// (each becomes a unit) and returns the edits to apply to the JSON: the
// scanner's null replacements plus one placeholder per inline resource,
// sorted by offset.
func plan(s *scanner, root *record) ([]*unit, []edit) {
	rootUnit := &unit{rec: root, prefix: root.typ}
	edits := s.edits
	if len(s.recs) == 1 {
		sortEdits(edits)
		return []*unit{rootUnit}, edits
	}
	recs := make([]*record, len(s.recs))
	for i := range s.recs {
		recs[i] = &s.recs[i]
	}
	slices.SortFunc(recs, func(a, b *record) int { return cmp.Compare(a.start, b.start) })

	units := []*unit{rootUnit}
	unitOf := map[*record]*unit{root: rootUnit}
	var stack []*record // enclosing records
	for _, r := range recs {
		for len(stack) > 0 && stack[len(stack)-1].end <= r.start {
			stack = stack[:len(stack)-1]
		}
		if r != root && len(stack) > 0 {
			parent := unitOf[stack[len(stack)-1]]
			if parent != nil && strings.HasPrefix(r.path, parent.rec.path) {
				if repl, ok := holder(parent.rec.typ, r.path[len(parent.rec.path):]); ok {
					u := &unit{rec: r, prefix: root.typ + r.path}
					unitOf[r] = u
					units = append(units, u)
					edits = append(edits, edit{r.span, repl})
				}
			}
		}
		stack = append(stack, r)
	}
	sortEdits(edits)
	return units, edits
}

func sortEdits(edits []edit) {
	if len(edits) > 1 {
		slices.SortFunc(edits, func(a, b edit) int { return cmp.Compare(a.start, b.start) })
	}
}

// holder reports whether rel (a path below a resource of type typ, like
// ".entry[0].resource") is a place that holds an inline resource, and
// returns the placeholder to leave there.
func holder(typ, rel string) (string, bool) {
	md := typeDescs[typ]
	if md == nil {
		return "", false
	}
	for rel != "" {
		if rel[0] != '.' {
			return "", false
		}
		rel = rel[1:]
		end := strings.IndexAny(rel, ".[")
		if end < 0 {
			end = len(rel)
		}
		fd := md.Fields().ByJSONName(rel[:end])
		rel = rel[end:]
		if fd == nil || fd.Message() == nil {
			return "", false
		}
		indexed := strings.HasPrefix(rel, "[")
		if indexed {
			close := strings.IndexByte(rel, ']')
			if close < 0 {
				return "", false
			}
			rel = rel[close+1:]
		}
		if indexed != fd.IsList() {
			return "", false
		}
		if holdsResource(fd.Message()) {
			if rel != "" {
				return "", false
			}
			if fd.Message().FullName() == anyFullName && fd.JSONName() != "contained" {
				return placeholderAny, true
			}
			return placeholderResource, true
		}
		md = fd.Message()
		if isChoice(md) {
			return "", false
		}
	}
	return "", false
}

// text returns u's JSON with the edits inside it applied. The edits of
// inline resources within u are skipped: each is inside a placeholder edit.
func (u *unit) text(b []byte, edits []edit) []byte {
	r := u.rec
	var out []byte
	cur := r.start
	first, _ := slices.BinarySearchFunc(edits, r.start, func(e edit, start int) int { return cmp.Compare(e.start, start) })
	for _, e := range edits[first:] {
		if e.start >= r.end {
			break
		}
		if e.start < cur || e.end > r.end || e.span == r.span {
			continue
		}
		if out == nil {
			out = make([]byte, 0, r.end-r.start)
		}
		out = append(out, b[cur:e.start]...)
		out = append(out, e.repl...)
		cur = e.end
	}
	if out == nil {
		return b[r.start:r.end]
	}
	return append(out, b[cur:r.end]...)
}

func (u *unit) validate(b []byte, edits []edit) []outcome.Issue {
	r := u.rec
	switch {
	case !r.typOK:
		return []outcome.Issue{issue("structure", u.prefix+".resourceType", "resourceType must be a JSON string")}
	case !IsType(r.typ):
		return []outcome.Issue{issue("structure", u.prefix+".resourceType", "unknown resource type "+quoteName(r.typ))}
	}
	text := u.text(b, edits)
	var rep reporter
	msg, err := unmarshaller.UnmarshalWithErrorReporter(text, &rep)
	if err == nil {
		return validationIssues(msg, u.prefix, rep.errs, nil)
	}
	les, ok := libErrors(err)
	if !ok {
		// Not one of the library's validation errors: an internal
		// failure. Say nothing about it beyond where.
		return []outcome.Issue{issue("processing", u.prefix, "the resource could not be parsed")}
	}
	var issues []outcome.Issue
	var removed []string
	var tree pruneNode
	for _, le := range les {
		issues = append(issues, parseIssue(r.typ, u.prefix, le))
		if segs, ok := removalPath(r.typ, le); ok && tree.add(segs) {
			removed = append(removed, exprOf(u.prefix, segs))
		}
	}
	if len(removed) == len(les) {
		// Validate what is left (see prune.go).
		rep = reporter{}
		if msg, err := unmarshaller.UnmarshalWithErrorReporter(prune(text, &tree), &rep); err == nil {
			issues = append(issues, validationIssues(msg, u.prefix, rep.errs, removed)...)
		}
	}
	return issues
}

// validationIssues turns the library's validation errors about msg into
// issues, leaving out those at or below the removed locations.
func validationIssues(msg proto.Message, prefix string, errs []libError, removed []string) []outcome.Issue {
	var issues []outcome.Issue
	res := resourceOf(msg)
	for _, ve := range errs {
		if is, ok := validationIssue(res, prefix, ve); ok && !under(is.Expression[0], removed) {
			issues = append(issues, is)
		}
	}
	return issues
}

// reporter collects the library's validation errors.
type reporter struct{ errs []libError }

func (r *reporter) ReportValidationError(path string, err error) error {
	if les, ok := libErrors(err); ok {
		for _, le := range les {
			le.path = path
			r.errs = append(r.errs, le)
		}
		return nil
	}
	r.errs = append(r.errs, libError{path: path, details: "invalid value"})
	return nil
}

func (r *reporter) ReportValidationWarning(string, error) error { return nil }

// libError is one of the library's jsonpbhelper.UnmarshalError values.
type libError struct {
	path    string
	details string // fixed text, free of user data
	diag    string // may quote user data
}

// libErrors reads the library's errors. Its error types live in an
// internal package, so they are read by reflection: an *UnmarshalError or
// an UnmarshalErrorList, each with string fields Path, Details and
// Diagnostics. TestLibraryErrorShape guards this.
func libErrors(err error) ([]libError, bool) {
	v := reflect.ValueOf(err)
	one := func(v reflect.Value) (libError, bool) {
		if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
			return libError{}, false
		}
		v = v.Elem()
		if v.Type().Name() != "UnmarshalError" {
			return libError{}, false
		}
		get := func(name string) string {
			f := v.FieldByName(name)
			if !f.IsValid() || f.Kind() != reflect.String {
				return ""
			}
			return f.String()
		}
		return libError{path: get("Path"), details: get("Details"), diag: get("Diagnostics")}, true
	}
	switch v.Kind() {
	case reflect.Pointer:
		le, ok := one(v)
		if !ok {
			return nil, false
		}
		return []libError{le}, true
	case reflect.Slice:
		if v.Type().Name() != "UnmarshalErrorList" {
			return nil, false
		}
		les := make([]libError, 0, v.Len())
		for i := range v.Len() {
			le, ok := one(v.Index(i))
			if !ok {
				return nil, false
			}
			les = append(les, le)
		}
		return les, true
	}
	return nil, false
}

// parseIssue turns one of the library's parse errors into an issue. Its
// path is in JSON terms ("Patient.name[0]._given"), rooted at the type.
func parseIssue(typ, prefix string, le libError) outcome.Issue {
	where := prefix + relPath(typ, le.path)
	switch {
	case le.details == "unknown field":
		// The library names the parent; the field is in the diagnostics.
		if k, err := strconv.Unquote(le.diag); err == nil {
			return issue("structure", where+"."+shortKey(k), "unknown field")
		}
		return issue("structure", where, "unknown field")
	case strings.HasPrefix(le.details, "cannot accept multiple values for "):
		name := strings.TrimSuffix(strings.TrimPrefix(le.details, "cannot accept multiple values for "), " field")
		name = lowerCamel(name)
		return issue("structure", where+"."+name+"[x]", "only one "+name+"[x] may be given")
	case le.details == "code type mismatch":
		if _, t, ok := strings.Cut(le.diag, " is not a "); ok {
			return issue("code-invalid", where, "invalid code (not a "+t+" value)")
		}
		return issue("code-invalid", where, "invalid code")
	case le.details == "invalid JSON":
		if le.path == "" {
			return issue("structure", where, "invalid JSON")
		}
		return issue("structure", where, "expected a JSON object")
	case le.details == "unknown resource type":
		return issue("structure", where+".resourceType", "unknown resource type")
	case strings.HasPrefix(le.details, "array length mismatch"):
		// Which of x and _x the library reads first varies, and so would
		// its message.
		name := where[strings.LastIndexByte(where, '.')+1:]
		return issue("structure", where, name+" and _"+name+" must have the same length")
	case le.details == "expected array" || strings.HasPrefix(le.details, "missing required field"):
		return issue("structure", where, le.details)
	}
	return issue("value", where, le.details)
}

// relPath strips the root type from a library path and names "_x"
// members x: "Patient.name[0]._given" → ".name[0].given".
func relPath(typ, path string) string {
	rest, ok := strings.CutPrefix(path, typ)
	if !ok || (rest != "" && rest[0] != '.') {
		if path == "" {
			return ""
		}
		rest = "." + path
	}
	return strings.ReplaceAll(rest, "._", ".")
}

// validationIssue turns one of the library's validation errors into an
// issue. Its path names proto fields ("Observation.value.quantity"), which
// are walked in res to spell it the FHIR way ("Observation.valueQuantity").
// It reports false for errors that are the library's own mistake.
func validationIssue(res protoreflect.Message, prefix string, le libError) (outcome.Issue, bool) {
	where, target := fhirPath(res, le.path)
	where = prefix + where
	switch {
	case strings.HasPrefix(le.details, "missing required field "):
		name, err := strconv.Unquote(strings.TrimPrefix(le.details, "missing required field "))
		if err != nil {
			return issue("required", where, le.details), true
		}
		if target != nil {
			if fd := target.Descriptor().Fields().ByJSONName(name); fd != nil && isChoice(fd.Message()) {
				name += "[x]"
			}
		}
		return issue("required", where+"."+name, "missing required field "+strconv.Quote(name)), true
	case strings.HasPrefix(le.details, "invalid ") && strings.HasSuffix(le.details, " format"):
		// A primitive sent as only "_x": {"extension": …} has no value,
		// which the library checks against the type's regex anyway.
		if target != nil && noValue(target) {
			return outcome.Issue{}, false
		}
		return issue("value", where, le.details), true
	case strings.HasPrefix(le.details, "invalid reference"):
		return issue("invalid", where, le.details), true
	}
	return issue("value", where, le.details), true
}

// noValue reports whether the primitive m has extensions but no value.
func noValue(m protoreflect.Message) bool {
	fds := m.Descriptor().Fields()
	v, ext := fds.ByName("value"), fds.ByName("extension")
	return v != nil && ext != nil && !m.Has(v) && m.Has(ext)
}

// resourceOf returns the resource inside the library's ContainedResource.
func resourceOf(msg proto.Message) protoreflect.Message {
	if msg == nil {
		return nil
	}
	cr := msg.ProtoReflect()
	fd := cr.WhichOneof(containedDesc.Oneofs().ByName("oneof_resource"))
	if fd == nil {
		return nil
	}
	return cr.Get(fd).Message()
}

// fhirPath converts a library validation path ("Observation.value.quantity",
// "Observation.subject.patientId") into FHIR JSON terms below the resource
// (".valueQuantity", ".subject.reference") by walking res, and returns the
// message the path ends at (nil when it cannot be followed).
func fhirPath(res protoreflect.Message, path string) (string, protoreflect.Message) {
	_, rest, _ := strings.Cut(path, ".")
	if rest == "" || res == nil {
		return "", res
	}
	var sb strings.Builder
	m := res
	segs := strings.Split(rest, ".")
	giveUp := func(i int) (string, protoreflect.Message) {
		sb.WriteString("." + strings.Join(segs[i:], "."))
		return sb.String(), nil
	}
	for i := 0; i < len(segs); i++ {
		name, idx := segs[i], -1
		if open := strings.IndexByte(name, '['); open > 0 && strings.HasSuffix(name, "]") {
			n, err := strconv.Atoi(name[open+1 : len(name)-1])
			if err != nil {
				return giveUp(i)
			}
			name, idx = name[:open], n
		}
		fd := m.Descriptor().Fields().ByJSONName(name)
		if fd == nil || fd.Message() == nil || fd.IsList() != (idx >= 0) {
			return giveUp(i)
		}
		if oo := fd.ContainingOneof(); oo != nil && oo.Name() == "reference" {
			name = "reference" // Reference.patientId etc. are all JSON "reference"
		}
		if fd.IsList() {
			list := m.Get(fd).List()
			if idx >= list.Len() {
				return giveUp(i)
			}
			m = list.Get(idx).Message()
			sb.WriteString("." + name + "[" + strconv.Itoa(idx) + "]")
		} else {
			m = m.Get(fd).Message()
			sb.WriteString("." + name)
		}
		if isChoice(fd.Message()) && i+1 < len(segs) {
			// value.quantity → valueQuantity
			i++
			sub := m.Descriptor().Fields().ByJSONName(segs[i])
			if sub == nil || sub.Message() == nil {
				return giveUp(i)
			}
			sb.WriteString(upperFirst(segs[i]))
			m = m.Get(sub).Message()
		}
	}
	return sb.String(), m
}

func issue(code, expression, diagnostics string) outcome.Issue {
	is := outcome.Issue{Severity: "error", Code: code, Diagnostics: diagnostics}
	if expression != "" {
		is.Expression = []string{expression}
	}
	return is
}

// invalid builds the KindInvalid error for issues: sorted by location,
// duplicates dropped, at most MaxIssues of them.
func invalid(issues []outcome.Issue, dropped int, complete bool) *outcome.Error {
	expr := func(is outcome.Issue) string {
		if len(is.Expression) == 0 {
			return ""
		}
		return is.Expression[0]
	}
	// Unknown fields the scanner flagged (upper-case names) may be flagged
	// by the library too.
	slices.SortFunc(issues, func(a, b outcome.Issue) int {
		return cmp.Or(cmp.Compare(expr(a), expr(b)), cmp.Compare(a.Diagnostics, b.Diagnostics))
	})
	out := issues[:0]
	for i, is := range issues {
		if i > 0 {
			prev := out[len(out)-1]
			if expr(prev) == expr(is) && (prev.Diagnostics == is.Diagnostics ||
				(prev.Code == "structure" && is.Code == "structure" && strings.HasPrefix(prev.Diagnostics, "unknown field") && strings.HasPrefix(is.Diagnostics, "unknown field"))) {
				continue
			}
		}
		out = append(out, is)
	}
	if n := len(out) + dropped - MaxIssues; n > 0 || !complete {
		msg := fmt.Sprintf("and %d more issues", max(n, 0))
		if !complete {
			msg += "; the rest of the resource was not checked"
		}
		out = append(out[:min(len(out), MaxIssues)], outcome.Issue{Severity: "error", Code: "too-costly", Diagnostics: msg})
	}
	return &outcome.Error{Kind: outcome.KindInvalid, Issues: out}
}

func structureError(b []byte, e *scanError) *outcome.Error {
	return outcome.New(outcome.KindStructure, "invalid JSON at %s: %s", position(b, e.off), e.msg)
}

// quoteName quotes a client-supplied name for a message, cut short.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

func lowerCamel(snake string) string {
	parts := strings.Split(snake, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = upperFirst(parts[i])
	}
	return strings.Join(parts, "")
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
