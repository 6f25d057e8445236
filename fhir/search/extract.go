package search

import (
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/telefhir/telefhir/fhir/fhirpath"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
)

// CurrencySystem is the token system of Money currencies (ISO 4217).
const CurrencySystem = "urn:iso:std:iso:4217"

// ExtractJSON is Extract on a resource's JSON.
func (r *Registry) ExtractJSON(typ string, body []byte) (*Index, error) {
	res, err := fhirpath.Decode(body)
	if err != nil {
		return nil, outcome.Wrap(outcome.KindStructure, err, "the resource is not valid JSON")
	}
	return r.Extract(typ, res)
}

// Extract returns the search index of resource, a resource of type typ
// decoded as generic JSON (fhirpath.Decode keeps decimals exact; float64
// numbers work too): the values of every supported search parameter of
// typ, typed per the R4 search rules, without duplicates. _id and
// _lastUpdated are not indexed: they live on the resource row.
//
// What is indexed, per parameter type:
//   - string: string and markdown values; HumanName family, given, prefix,
//     suffix and text; Address line, city, district, state, postalCode,
//     country and text. Norm is Normalize(Exact).
//   - token: Coding (system, code, display as Text); CodeableConcept (each
//     coding, and a text-only row for its text); Identifier (system and
//     value, type.text as Text, and OfTypeParam rows); ContactPoint (value,
//     no system); Quantity (system and code of the unit); boolean
//     ("true"/"false"); code, string, uri and id values (no system: the
//     code system of a bound code is not known here).
//   - date: date, dateTime and instant as the range of their precision
//     (DateRange; no zone means UTC); Period from the start's low to the
//     end's high, open ends at DateMin/DateMax; Timing: each event, and its
//     repeat.boundsPeriod.
//   - reference: Reference.reference as a local Type/ID (relative, or
//     absolute under the base URL, _history stripped) or as a URL
//     (absolute elsewhere, urn:, canonical without |version); references
//     to contained resources (#id) are not indexed. Reference.identifier is
//     indexed as tokens under IdentifierParam(code).
//   - quantity: Quantity, Age, Duration, Distance, Count, SimpleQuantity
//     and Money (currency as code in CurrencySystem), with the precision
//     range and, for UCUM units in the table, the canonical value; Range
//     as Low..High (open ends ±MaxFloat64), without a canonical value.
//   - number: integers and decimals with their precision range; Range.
//   - uri: uri, url, canonical, oid, uuid values as written.
//   - composite: per element selected (Group = 1, 2, ...), each component's
//     values under CompositeComponent(code, i), typed as the component.
//
// An error means the resource cannot be indexed: it is not a typ, or an
// expression failed on it (an *outcome.Error).
func (r *Registry) Extract(typ string, res any) (*Index, error) {
	obj, ok := res.(map[string]any)
	if !ok {
		return nil, outcome.New(outcome.KindStructure, "the resource is not a JSON object")
	}
	if rt, _ := obj["resourceType"].(string); rt != typ {
		return nil, outcome.Invalid("resourceType", "resourceType %q is not %s", rt, typ)
	}
	tp := r.defs.byType[typ]
	if tp == nil {
		return nil, outcome.Invalid("resourceType", "%q is not an R4 resource type", typ)
	}
	e := extractor{r: r, x: &Index{}}
	for _, p := range tp.indexed {
		if err := e.extractParam(p, res); err != nil {
			return nil, err
		}
	}
	return e.x, nil
}

// ExtractJSONFor is ExtractJSON limited to the parameters that where
// tests (with their :identifier, :of-type and composite component rows):
// enough for Eval of those clauses, at a fraction of the cost of a whole
// index when a resource has many parameters.
func (r *Registry) ExtractJSONFor(typ string, body []byte, where []Clause) (*Index, error) {
	tp := r.defs.byType[typ]
	if tp == nil {
		return nil, outcome.Invalid("resourceType", "%q is not an R4 resource type", typ)
	}
	codes := map[string]bool{}
	var visit func(ps []Predicate)
	visit = func(ps []Predicate) {
		for _, p := range ps {
			visit(p.Composite)
			code, _, _ := strings.Cut(p.Param, ":") // subject:identifier, code:of-type
			code, _, _ = strings.Cut(code, "$")     // a composite's component
			codes[code] = true
		}
	}
	for _, c := range where {
		visit(c.Or)
	}
	var params []*Param
	var roots []string
	whole := false
	for _, p := range tp.indexed {
		if codes[p.Code] {
			params = append(params, p)
			whole = whole || p.roots == nil
			for _, r := range p.roots {
				if !slices.Contains(roots, r) {
					roots = append(roots, r)
				}
			}
		}
	}
	x := &Index{}
	if len(params) == 0 {
		return x, nil
	}
	if whole {
		roots = nil
	}
	res, err := decodeRoots(body, roots)
	if err != nil {
		return nil, outcome.Wrap(outcome.KindStructure, err, "the resource is not valid JSON")
	}
	if res["resourceType"] != typ {
		return nil, outcome.Invalid("resourceType", "the resource is not a %s", typ)
	}
	e := extractor{r: r, x: x}
	for _, p := range params {
		if err := e.extractParam(p, res); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// decodeRoots decodes a resource as fhirpath.Decode does, keeping only
// resourceType, id and the top-level elements named in roots (all of them
// when roots is nil): value[x] keeps valueQuantity, valueString, ..., and
// each element its primitive extensions (_name). The elements left out are
// skipped, not decoded.
func decodeRoots(body []byte, roots []string) (map[string]any, error) {
	if roots == nil {
		v, err := fhirpath.Decode(body)
		if err != nil {
			return nil, err
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("the resource is not a JSON object")
		}
		return obj, nil
	}
	// The members kept are decoded together, as one smaller object.
	kept := make([]byte, 0, 256)
	kept = append(kept, '{')
	err := skimObject(body, func(k string, rawKey, raw []byte) error {
		if !rootWanted(k, roots) {
			return nil
		}
		if len(kept) > 1 {
			kept = append(kept, ',')
		}
		kept = append(kept, rawKey...)
		kept = append(kept, ':')
		kept = append(kept, raw...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return decodeRoots(append(kept, '}'), nil)
}

func rootWanted(k string, roots []string) bool {
	if k == "resourceType" || k == "id" {
		return true
	}
	k = strings.TrimPrefix(k, "_")
	for _, r := range roots {
		switch {
		case k == r:
			return true
		case len(k) > len(r) && strings.HasPrefix(k, r) && 'A' <= k[len(r)] && k[len(r)] <= 'Z':
			return true // a choice element: value → valueQuantity
		}
	}
	return false
}

type extractor struct {
	r     *Registry
	x     *Index
	param string // current row name
	group int
	// The first row of the current parameter in each slice: duplicates
	// are looked for from there on.
	ms, mt, md, mr, mq, mn, mu int
	// seen holds the current parameter's rows once there are many.
	seen map[any]struct{}
	// norms remembers the normal forms of the non-ASCII strings seen:
	// the same names and addresses come back under several parameters.
	norms []normalized
}

type normalized struct{ in, out string }

func (e *extractor) normalize(s string) string {
	for _, n := range e.norms {
		if n.in == s {
			return n.out
		}
	}
	out := Normalize(s)
	if out != s && len(e.norms) < 32 {
		e.norms = append(e.norms, normalized{s, out})
	}
	return out
}

func (e *extractor) mark(param string, group int) {
	e.param, e.group = param, group
	if len(e.seen) > 0 {
		clear(e.seen)
	}
	x := e.x
	e.ms, e.mt, e.md, e.mr, e.mq, e.mn, e.mu = len(x.Strings), len(x.Tokens), len(x.Dates), len(x.References), len(x.Quantities), len(x.Numbers), len(x.URIs)
}

func (e *extractor) extractParam(p *Param, res any) error {
	if p.Type == TypeComposite {
		return e.composite(p, res)
	}
	vals, err := p.expr.Evaluate(res)
	if err != nil {
		return indexError(p, err)
	}
	e.mark(p.Code, 0)
	e.values(p.Type, vals)
	return nil
}

func (e *extractor) composite(p *Param, res any) error {
	if pv, err := p.comp.present.Evaluate(res); err != nil {
		return indexError(p, err)
	} else if len(pv) == 0 {
		return nil
	}
	obj := res.(map[string]any)
	group := 0
	vals := make([][]fhirpath.Value, len(p.Components))
	var standIn map[string]any
	for _, b := range p.comp.branches {
		if b.field == "" {
			group++
			if err := e.compositeElement(p, b, res, group, vals); err != nil {
				return err
			}
			continue
		}
		var items []any
		switch v := obj[b.field].(type) {
		case []any:
			items = v
		case map[string]any:
			items = []any{v}
		}
		for _, item := range items {
			if _, ok := item.(map[string]any); !ok {
				continue
			}
			group++
			if standIn == nil {
				if p.comp.copyAll {
					standIn = maps.Clone(obj)
				} else {
					standIn = map[string]any{"resourceType": obj["resourceType"]}
				}
			}
			standIn[b.field] = item
			if err := e.compositeElement(p, b, standIn, group, vals); err != nil {
				return err
			}
		}
	}
	return nil
}

// compositeElement indexes one element of composite p, evaluating b's
// component expressions on res. An element is indexed only when every
// component has a value: a composite search can match no other.
func (e *extractor) compositeElement(p *Param, b compositeBranch, res any, group int, vals [][]fhirpath.Value) error {
	// The last component (the value, usually) first: it is the one most
	// often missing.
	for j := len(b.comps) - 1; j >= 0; j-- {
		cv, err := b.comps[j].Evaluate(res)
		if err != nil {
			return indexError(p, err)
		}
		if len(cv) == 0 {
			return nil
		}
		vals[j] = cv
	}
	for j, c := range p.Components {
		e.mark(CompositeComponent(p.Code, j), group)
		e.values(c.Type, vals[j])
	}
	return nil
}

func indexError(p *Param, err error) error {
	return outcome.Wrap(outcome.KindUnprocessable, err, "the resource cannot be indexed for search parameter %s (%s)", p.Code, p.Expression)
}

func (e *extractor) values(t Type, vals []fhirpath.Value) {
	for _, v := range vals {
		if v.Node == nil {
			continue
		}
		switch t {
		case TypeString:
			e.stringValue(v)
		case TypeToken:
			e.tokenValue(v)
		case TypeDate:
			e.dateValue(v)
		case TypeReference:
			e.referenceValue(v)
		case TypeQuantity:
			e.quantityValue(v)
		case TypeNumber:
			e.numberValue(v)
		case TypeURI:
			if s, ok := v.Node.(string); ok && s != "" {
				e.uri(s)
			}
		}
	}
}

// ---- rows, without duplicates

// appendUnique appends row to rows unless the current parameter's rows
// (from mark on) already hold it: a linear scan while they are few, a set
// beyond, so that a resource with thousands of values stays linear.
func appendUnique[R comparable](e *extractor, rows []R, mark int, row R) []R {
	cur := rows[mark:]
	if len(cur) < dedupScan {
		if slices.Contains(cur, row) {
			return rows
		}
		return append(rows, row)
	}
	if e.seen == nil {
		e.seen = map[any]struct{}{}
	}
	if len(cur) == dedupScan { // first time past the scan: fill the set
		for _, r := range cur {
			e.seen[r] = struct{}{}
		}
	}
	if _, dup := e.seen[row]; dup {
		return rows
	}
	e.seen[row] = struct{}{}
	return append(rows, row)
}

const dedupScan = 16

func (e *extractor) str(s string) {
	if s == "" {
		return
	}
	row := StringRow{Param: e.param, Group: e.group, Norm: e.normalize(s), Exact: s}
	e.x.Strings = appendUnique(e, e.x.Strings, e.ms, row)
}

func (e *extractor) token(param, system, code, text string) {
	if code == "" && text == "" {
		return
	}
	row := TokenRow{Param: param, Group: e.group, System: system, Code: code, Text: text}
	e.x.Tokens = appendUnique(e, e.x.Tokens, e.mt, row)
}

func (e *extractor) date(low, high int64) {
	e.x.Dates = appendUnique(e, e.x.Dates, e.md, DateRow{Param: e.param, Group: e.group, Low: low, High: high})
}

func (e *extractor) ref(typ, id, url string) {
	e.x.References = appendUnique(e, e.x.References, e.mr, ReferenceRow{Param: e.param, Group: e.group, Type: typ, ID: id, URL: url})
}

func (e *extractor) quantity(row QuantityRow) {
	row.Param, row.Group = e.param, e.group
	e.x.Quantities = appendUnique(e, e.x.Quantities, e.mq, row)
}

func (e *extractor) number(value, low, high float64) {
	e.x.Numbers = appendUnique(e, e.x.Numbers, e.mn, NumberRow{Param: e.param, Group: e.group, Value: value, Low: low, High: high})
}

func (e *extractor) uri(s string) {
	e.x.URIs = appendUnique(e, e.x.URIs, e.mu, URIRow{Param: e.param, Group: e.group, URI: s})
}

// ---- JSON helpers

func field(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}

// strings calls f with the string value, or each string of the array, of
// m[name].
func eachString(m map[string]any, name string, f func(string)) {
	switch v := m[name].(type) {
	case string:
		f(v)
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				f(s)
			}
		}
	}
}

func eachObject(m map[string]any, name string, f func(map[string]any)) {
	switch v := m[name].(type) {
	case map[string]any:
		f(v)
	case []any:
		for _, x := range v {
			if o, ok := x.(map[string]any); ok {
				f(o)
			}
		}
	}
}

// numberText returns the text of a JSON number decoded as json.Number or
// float64.
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case float64:
		if math.IsInf(n, 0) || math.IsNaN(n) {
			return "", false
		}
		return strconv.FormatFloat(n, 'g', -1, 64), true
	}
	return "", false
}

func isQuantityType(t string) bool {
	switch t {
	case "Quantity", "SimpleQuantity", "Age", "Duration", "Distance", "Count", "MoneyQuantity":
		return true
	}
	return false
}

// ---- per parameter type

func (e *extractor) stringValue(v fhirpath.Value) {
	switch n := v.Node.(type) {
	case string:
		e.str(n)
	case map[string]any:
		switch v.Type {
		case "HumanName":
			for _, f := range [...]string{"family", "given", "prefix", "suffix", "text"} {
				eachString(n, f, e.str)
			}
		case "Address":
			for _, f := range [...]string{"line", "city", "district", "state", "postalCode", "country", "text"} {
				eachString(n, f, e.str)
			}
		}
	}
}

func (e *extractor) tokenValue(v fhirpath.Value) {
	switch n := v.Node.(type) {
	case string:
		e.token(e.param, "", n, "")
	case bool:
		e.token(e.param, "", strconv.FormatBool(n), "")
	case json.Number, float64:
		if s, ok := numberText(n); ok {
			e.token(e.param, "", s, "")
		}
	case map[string]any:
		switch {
		case v.Type == "Coding":
			e.coding(n)
		case v.Type == "CodeableConcept":
			first := len(e.x.Tokens)
			eachObject(n, "coding", e.coding)
			if t := field(n, "text"); t != "" {
				// A text-only row, unless a coding's display says the same.
				text := e.normalize(t)
				if !slices.ContainsFunc(e.x.Tokens[first:], func(r TokenRow) bool { return r.Text == text }) {
					e.token(e.param, "", "", text)
				}
			}
		case v.Type == "Identifier":
			e.identifier(e.param, n, true)
		case v.Type == "ContactPoint":
			e.token(e.param, "", field(n, "value"), "")
		case isQuantityType(v.Type):
			e.token(e.param, field(n, "system"), field(n, "code"), "")
		}
	}
}

func (e *extractor) coding(c map[string]any) {
	text := ""
	if d := field(c, "display"); d != "" {
		text = e.normalize(d)
	}
	e.token(e.param, field(c, "system"), field(c, "code"), text)
}

// identifier indexes an Identifier under param, with its :of-type rows
// when ofType.
func (e *extractor) identifier(param string, id map[string]any, ofType bool) {
	value := field(id, "value")
	typ, _ := id["type"].(map[string]any)
	text := ""
	if t := field(typ, "text"); t != "" {
		text = e.normalize(t)
	}
	e.token(param, field(id, "system"), value, text)
	if !ofType || value == "" || typ == nil {
		return
	}
	eachObject(typ, "coding", func(c map[string]any) {
		if code := field(c, "code"); code != "" {
			e.token(OfTypeParam(param), field(c, "system"), code+"|"+value, "")
		}
	})
}

func (e *extractor) dateValue(v fhirpath.Value) {
	switch n := v.Node.(type) {
	case string:
		if lo, hi, err := DateRange(n); err == nil {
			e.date(lo, hi)
		}
	case map[string]any:
		switch v.Type {
		case "Period":
			e.period(n)
		case "Timing":
			eachString(n, "event", func(s string) {
				if lo, hi, err := DateRange(s); err == nil {
					e.date(lo, hi)
				}
			})
			if rep, ok := n["repeat"].(map[string]any); ok {
				if bp, ok := rep["boundsPeriod"].(map[string]any); ok {
					e.period(bp)
				}
			}
		}
	}
}

func (e *extractor) period(p map[string]any) {
	lo, hi := DateMin, DateMax
	start, end := field(p, "start"), field(p, "end")
	if start == "" && end == "" {
		return
	}
	if start != "" {
		l, _, err := DateRange(start)
		if err != nil {
			return
		}
		lo = l
	}
	if end != "" {
		_, h, err := DateRange(end)
		if err != nil {
			return
		}
		hi = h
	}
	e.date(lo, hi)
}

func (e *extractor) referenceValue(v fhirpath.Value) {
	switch n := v.Node.(type) {
	case string:
		if v.Type == "canonical" {
			if i := strings.IndexByte(n, '|'); i >= 0 {
				n = n[:i]
			}
		}
		if typ, id, url, ok := e.r.splitReference(n); ok {
			e.ref(typ, id, url)
		}
	case map[string]any:
		if v.Type != "Reference" {
			return // a resource (Bundle.entry.resource), an Identifier, ...
		}
		if typ, id, url, ok := e.r.splitReference(field(n, "reference")); ok {
			e.ref(typ, id, url)
		}
		if id, ok := n["identifier"].(map[string]any); ok {
			e.identifier(IdentifierParam(e.param), id, false)
		}
	}
}

// splitReference classifies a literal reference: a local Type/id, or a URL
// kept as written. ok is false for references that are not indexed: empty,
// to a contained resource (#id), or relative but not Type/id.
func (r *Registry) splitReference(ref string) (typ, id, url string, ok bool) {
	switch {
	case ref == "" || ref[0] == '#':
		return "", "", "", false
	case r.base != "" && len(ref) > len(r.base) && strings.HasPrefix(ref, r.base) && ref[len(r.base)] == '/':
		if typ, id, ok := relativeReference(ref[len(r.base)+1:]); ok {
			return typ, id, "", true
		}
		return "", "", ref, true
	case strings.Contains(ref, ":"):
		// http://other/fhir/Patient/1, urn:uuid:..., urn:oid:...
		return "", "", ref, true
	}
	if typ, id, ok := relativeReference(ref); ok {
		return typ, id, "", true
	}
	return "", "", "", false
}

// relativeReference parses Type/id or Type/id/_history/vid.
func relativeReference(s string) (typ, id string, ok bool) {
	typ, rest, found := strings.Cut(s, "/")
	if !found || !resource.IsType(typ) {
		return "", "", false
	}
	id, hist, hasHist := strings.Cut(rest, "/")
	if hasHist {
		v, ok := strings.CutPrefix(hist, "_history/")
		if !ok || v == "" || strings.IndexByte(v, '/') >= 0 {
			return "", "", false
		}
	}
	if !validID(id) {
		return "", "", false
	}
	return typ, id, true
}

// validID reports whether s is a FHIR id: [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigitByte(c) || ('a' <= c|0x20 && c|0x20 <= 'z') || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func (e *extractor) quantityValue(v fhirpath.Value) {
	n, ok := v.Node.(map[string]any)
	if !ok {
		return
	}
	switch {
	case isQuantityType(v.Type):
		if row, ok := quantityRow(n); ok {
			e.quantity(row)
		}
	case v.Type == "Money":
		text, ok := numberText(n["value"])
		if !ok {
			return
		}
		val, lo, hi, err := DecimalRange(text)
		if err != nil {
			return
		}
		cur := field(n, "currency")
		row := QuantityRow{Value: val, Low: lo, High: hi, Code: cur, Unit: cur}
		if cur != "" {
			row.System = CurrencySystem
		}
		e.quantity(row)
	case v.Type == "Range":
		low, hasLow := n["low"].(map[string]any)
		high, hasHigh := n["high"].(map[string]any)
		lr, okLow := quantityRow(low)
		hr, okHigh := quantityRow(high)
		if !okLow && !okHigh || hasLow && !okLow || hasHigh && !okHigh {
			return
		}
		row := QuantityRow{Low: -math.MaxFloat64, High: math.MaxFloat64}
		if okLow {
			row.Value, row.Low, row.System, row.Code, row.Unit = lr.Value, lr.Low, lr.System, lr.Code, lr.Unit
		}
		if okHigh {
			if !okLow {
				row.Value, row.System, row.Code, row.Unit = hr.Value, hr.System, hr.Code, hr.Unit
			}
			row.High = hr.High
		}
		e.quantity(row)
	}
}

// quantityRow reads a Quantity (or a specialisation); ok is false when it
// has no valid value.
func quantityRow(q map[string]any) (QuantityRow, bool) {
	if q == nil {
		return QuantityRow{}, false
	}
	text, ok := numberText(q["value"])
	if !ok {
		return QuantityRow{}, false
	}
	val, lo, hi, err := DecimalRange(text)
	if err != nil {
		return QuantityRow{}, false
	}
	row := QuantityRow{Value: val, Low: lo, High: hi, System: field(q, "system"), Code: field(q, "code"), Unit: field(q, "unit")}
	if row.System == UCUM && row.Code != "" {
		if canon, cv, ok := Canonical(row.Code, val); ok {
			row.CanonCode, row.CanonValue = canon, cv
		}
	}
	return row, true
}

func (e *extractor) numberValue(v fhirpath.Value) {
	switch n := v.Node.(type) {
	case json.Number, float64:
		text, _ := numberText(n)
		if val, lo, hi, err := DecimalRange(text); err == nil {
			e.number(val, lo, hi)
		}
	case map[string]any:
		if v.Type != "Range" {
			return
		}
		low, _ := n["low"].(map[string]any)
		high, _ := n["high"].(map[string]any)
		lr, okLow := quantityRow(low)
		hr, okHigh := quantityRow(high)
		switch {
		case okLow && okHigh:
			e.number(lr.Value, lr.Low, hr.High)
		case okLow:
			e.number(lr.Value, lr.Low, math.MaxFloat64)
		case okHigh:
			e.number(hr.Value, -math.MaxFloat64, hr.High)
		}
	}
}
