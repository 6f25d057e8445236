package search

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
)

// Page sizes used when ParseOptions leaves them zero.
const (
	DefaultCount    = 20
	DefaultMaxCount = 1000
)

// MaxChainDepth bounds chains and _has nesting (subject:Patient.organization.name
// is two levels).
const MaxChainDepth = 4

// ParamHas is the Param of a _has predicate (its Has says the rest).
const ParamHas = "_has"

// ParseOptions configure Parse.
type ParseOptions struct {
	// Strict makes unknown or unsupported parameters and modifiers an
	// error (Prefer: handling=strict); otherwise they are ignored and
	// reported as warnings (handling=lenient, the default).
	Strict bool
	// DefaultCount is the page size without _count (0: DefaultCount).
	DefaultCount int
	// MaxCount is the largest page size; a larger _count is lowered to it,
	// with an informational issue (0: DefaultMaxCount).
	MaxCount int
}

// callerParams are the result parameters the caller handles; Parse
// ignores them.
var callerParams = map[string]bool{"_summary": true, "_elements": true, "_format": true, "_pretty": true, "_cursor": true}

// resourceLevel is the URL prefix of the parameters every resource has.
const resourceLevel = "http://hl7.org/fhir/SearchParameter/Resource-"

// Parse parses the query parameters of a search of resource type typ
// ("" for a system-level search, which takes _type and the parameters
// every resource has) into a Query.
//
// Each parameter name becomes a clause per occurrence (repetition is AND);
// the comma separates alternatives (OR; "\," is a literal comma, likewise
// "\|", "\$" and "\\"). Supported: modifiers :missing, :exact and
// :contains (string), :not, :text and :of-type (token), :[type] and
// :identifier (reference), :below and :above (uri); chains
// (subject:Patient.name, several levels); reverse chains
// (_has:Observation:patient:code); composites (code-value-quantity=
// http://loinc.org|8867-4$gt100); prefixes on number, date and quantity
// values; _id, _lastUpdated, _tag, _profile, _security, _source; and the
// result parameters _sort, _count, _total, _include and _revinclude
// (:iterate). _summary, _elements, _format, _pretty and _cursor are left
// to the caller. Clauses come in the order of the parameter names.
//
// Values: a missing prefix is Eq; ne is a Prefix of the value test, not
// Predicate.Not (which only :not sets). A quantity with the UCUM system and
// a unit of the canonical table is searched canonically (Canonical, in the
// canonical unit). Dates without a zone are UTC (see DateRange). A
// reference under the registry's base URL is local; a canonical's
// |version is dropped, as it is from the index.
//
// Unknown or unsupported parameters and modifiers are ignored with a
// warning issue (code not-supported) unless opts.Strict, when they are an
// error. Malformed values always are: err is then an *outcome.Error of
// kind KindInvalid whose diagnostics name the parameter and the value.
func (r *Registry) Parse(typ string, params url.Values, opts ParseOptions) (Query, []outcome.Issue, error) {
	p := &parser{r: r, opts: opts}
	q, err := p.parse(typ, params)
	if err != nil {
		return Query{}, nil, err
	}
	return q, p.issues, nil
}

type parser struct {
	r      *Registry
	opts   ParseOptions
	issues []outcome.Issue
	// name and value are the query parameter being parsed, which errors
	// name even when the problem is deep in a chain.
	name, value string
}

// bad is the error for a malformed parameter; inner names the part of a
// chain at fault when it is not the whole parameter.
func (p *parser) bad(inner, format string, args ...any) *outcome.Error {
	msg := fmt.Sprintf(format, args...)
	if inner != "" && inner != p.name {
		msg = quoteShort(inner) + ": " + msg
	}
	return invalid(p.name, p.value, "%s", msg)
}

// invalid is the error for a malformed parameter.
func invalid(name, value, format string, args ...any) *outcome.Error {
	return outcome.New(outcome.KindInvalid, "search parameter %s=%s: %s", quoteShort(name), quoteShort(value), fmt.Sprintf(format, args...))
}

// quoteShort quotes s, cut to a length fit for a message.
func quoteShort(s string) string {
	const max = 100
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

// notSupported reports a parameter or modifier the server does not
// support: an error when strict, else a warning, and the parameter is
// ignored.
func (p *parser) notSupported(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if p.opts.Strict {
		return &outcome.Error{Kind: outcome.KindInvalid, Issues: []outcome.Issue{{Severity: "error", Code: "not-supported", Diagnostics: msg}}}
	}
	p.issues = append(p.issues, outcome.Issue{Severity: "warning", Code: "not-supported", Diagnostics: msg + "; it was ignored"})
	return nil
}

func (p *parser) parse(typ string, params url.Values) (Query, error) {
	defCount, maxCount := p.opts.DefaultCount, p.opts.MaxCount
	if maxCount <= 0 {
		maxCount = DefaultMaxCount
	}
	if defCount <= 0 {
		defCount = DefaultCount
	}
	q := Query{Count: min(defCount, maxCount)}
	var types []string
	if typ != "" {
		if p.r.defs.byType[typ] == nil {
			return Query{}, outcome.New(outcome.KindInvalid, "%s is not an R4 resource type", quoteShort(typ))
		}
		types = []string{typ}
		q.Types = types
	}
	if vals, ok := params["_type"]; ok {
		if typ != "" {
			if err := p.notSupported("_type applies to system-level searches only"); err != nil {
				return Query{}, err
			}
		} else {
			ts, err := p.typeList(vals)
			if err != nil {
				return Query{}, err
			}
			types, q.Types = ts, ts
		}
	}
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vals := slices.DeleteFunc(slices.Clone(params[name]), func(v string) bool { return v == "" })
		base, mod, _ := strings.Cut(name, ":")
		if callerParams[name] || len(vals) == 0 {
			continue // an empty parameter is ignored
		}
		var err error
		switch base {
		case "_count":
			err = p.count(&q, name, vals, maxCount)
		case "_total":
			err = p.total(&q, name, vals)
		case "_sort":
			err = p.sort(&q, types, name, vals)
		case "_include", "_revinclude":
			err = p.includes(&q, types, base, mod, name, vals)
		default:
			continue
		}
		if err != nil {
			return Query{}, err
		}
	}
	for _, name := range names {
		base, _, _ := strings.Cut(name, ":")
		switch base {
		case "_count", "_total", "_sort", "_include", "_revinclude":
			continue
		}
		if callerParams[name] || name == "_type" {
			continue
		}
		for _, v := range params[name] {
			if v == "" {
				continue // an empty parameter is ignored
			}
			p.name, p.value = name, v
			c, _, ok, err := p.clause(types, name, v, 0, false)
			if err != nil {
				return Query{}, err
			}
			if ok {
				q.Where = append(q.Where, c)
			}
		}
	}
	return q, nil
}

func (p *parser) typeList(vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if p.r.defs.byType[t] == nil {
				return nil, invalid("_type", v, "%s is not an R4 resource type", quoteShort(t))
			}
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

func single(name string, vals []string) (string, error) {
	if len(vals) != 1 {
		return "", invalid(name, strings.Join(vals, "&"), "must appear once")
	}
	return vals[0], nil
}

func (p *parser) count(q *Query, name string, vals []string, maxCount int) error {
	if name != "_count" {
		return p.notSupported("modifier %s is not supported", quoteShort(name))
	}
	v, err := single(name, vals)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return invalid(name, v, "must be a non-negative integer")
	}
	if n > maxCount {
		p.issues = append(p.issues, outcome.Issue{Severity: "information", Code: "informational",
			Diagnostics: fmt.Sprintf("_count=%d is more than the server's maximum page size; %d is used", n, maxCount)})
		n = maxCount
	}
	q.Count = n
	return nil
}

func (p *parser) total(q *Query, name string, vals []string) error {
	if name != "_total" {
		return p.notSupported("modifier %s is not supported", quoteShort(name))
	}
	v, err := single(name, vals)
	if err != nil {
		return err
	}
	switch v {
	case "none":
		q.Total = TotalNone
	case "estimate":
		q.Total = TotalEstimate
	case "accurate":
		q.Total = TotalAccurate
	default:
		return invalid(name, v, "must be none, estimate or accurate")
	}
	return nil
}

func (p *parser) sort(q *Query, types []string, name string, vals []string) error {
	if name != "_sort" {
		return p.notSupported("modifier %s is not supported (write _sort=-param for descending order)", quoteShort(name))
	}
	v, err := single(name, vals)
	if err != nil {
		return err
	}
	p.name, p.value = name, v
	for key := range strings.SplitSeq(v, ",") {
		code, desc := strings.CutPrefix(strings.TrimSpace(key), "-")
		if code == "" {
			return invalid(name, v, "empty sort key")
		}
		switch code {
		case ParamID:
			q.Sort = append(q.Sort, SortKey{Param: ParamID, Type: TypeToken, Desc: desc})
			continue
		case ParamLastUpdated:
			q.Sort = append(q.Sort, SortKey{Param: ParamLastUpdated, Type: TypeDate, Desc: desc})
			continue
		}
		prm, _, err := p.resolve(types, code, name, v)
		if err != nil {
			return err
		}
		switch {
		case prm == nil:
			err = p.notSupported("_sort: unknown search parameter %s", quoteShort(code))
		case !prm.Sortable():
			err = p.notSupported("_sort: search parameter %s cannot be sorted on", quoteShort(code))
		default:
			q.Sort = append(q.Sort, SortKey{Param: prm.Code, Type: prm.Type, Desc: desc})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// includes parses _include and _revinclude: Type:param[:target], Type:*
// or *.
func (p *parser) includes(q *Query, types []string, base, mod, name string, vals []string) error {
	iterate := false
	switch mod {
	case "":
	case "iterate", "recurse":
		iterate = true
	default:
		return p.notSupported("modifier %s is not supported", quoteShort(name))
	}
	for _, v := range vals {
		for item := range strings.SplitSeq(v, ",") {
			inc, ok, err := p.include(types, base, name, item, iterate)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if base == "_include" {
				q.Include = append(q.Include, inc)
			} else {
				q.RevInclude = append(q.RevInclude, inc)
			}
		}
	}
	return nil
}

func (p *parser) include(types []string, base, name, v string, iterate bool) (Include, bool, error) {
	if v == "*" {
		return Include{Type: "*", Param: "*", Iterate: iterate}, true, nil
	}
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Include{}, false, invalid(name, v, "must be Type:parameter[:targetType] or *")
	}
	inc := Include{Type: parts[0], Param: parts[1], Iterate: iterate}
	if len(parts) == 3 {
		inc.Target = parts[2]
		if !resource.IsType(inc.Target) {
			return Include{}, false, invalid(name, v, "%s is not an R4 resource type", quoteShort(inc.Target))
		}
	}
	if p.r.defs.byType[inc.Type] == nil {
		return Include{}, false, invalid(name, v, "%s is not an R4 resource type", quoteShort(inc.Type))
	}
	if base == "_include" && !iterate && len(types) > 0 && !slices.Contains(types, inc.Type) {
		return Include{}, false, invalid(name, v, "the source type %s is not the type searched (use %s:iterate for included resources)", inc.Type, base)
	}
	if inc.Param == "*" {
		return inc, true, nil
	}
	prm, ok := p.r.Lookup(inc.Type, inc.Param)
	switch {
	case !ok:
		return Include{}, false, p.notSupported("%s: %s has no search parameter %s", base, inc.Type, quoteShort(inc.Param))
	case prm.Type != TypeReference:
		return Include{}, false, invalid(name, v, "%s.%s is not a reference parameter", inc.Type, inc.Param)
	case !prm.Supported():
		return Include{}, false, p.notSupported("%s: search parameter %s of %s is not supported: %s", base, inc.Param, inc.Type, prm.Unsupported)
	case inc.Target != "" && len(prm.Targets) > 0 && !slices.Contains(prm.Targets, inc.Target):
		return Include{}, false, invalid(name, v, "%s.%s does not refer to %s", inc.Type, inc.Param, inc.Target)
	}
	return inc, true, nil
}

// resolve finds parameter code among types: the parameter of the first
// type that has it, and every type that has it with the same type. With
// no types (system level) only the parameters of every resource count.
func (p *parser) resolve(types []string, code, name, value string) (*Param, []string, error) {
	if len(types) == 0 {
		prm, ok := p.r.Lookup("Patient", code)
		if !ok || !strings.HasPrefix(prm.URL, resourceLevel) {
			return nil, nil, nil
		}
		return prm, nil, nil
	}
	var first *Param
	var have []string
	for _, t := range types {
		prm, ok := p.r.Lookup(t, code)
		if !ok {
			continue
		}
		if first == nil {
			first = prm
		} else if prm.Type != first.Type {
			return nil, nil, p.bad(name, "%s is a %s parameter of %s but a %s parameter of %s: name one type", code, first.Type, first.Resource, prm.Type, t)
		}
		have = append(have, t)
	}
	return first, have, nil
}

// clause parses one occurrence name=value. ok is false when it was
// ignored (with a warning). have are the types of types on which the
// parameter exists. In a chain (inChain) every problem is an error: an
// ignored part would change the meaning of the chain.
func (p *parser) clause(types []string, name, value string, depth int, inChain bool) (c Clause, have []string, ok bool, err error) {
	if depth > MaxChainDepth {
		return Clause{}, nil, false, p.bad(name, "chains are limited to %d levels", MaxChainDepth)
	}
	skip := func(format string, args ...any) (Clause, []string, bool, error) {
		if inChain {
			return Clause{}, nil, false, invalid(p.name, p.value, "%s: %s", quoteShort(name), fmt.Sprintf(format, args...))
		}
		return Clause{}, nil, false, p.notSupported("search parameter %s: %s", quoteShort(name), fmt.Sprintf(format, args...))
	}
	if rest, isHas := strings.CutPrefix(name, "_has:"); isHas {
		return p.has(types, name, rest, value, depth)
	}
	head, chain, chained := strings.Cut(name, ".")
	code, mod, hasMod := strings.Cut(head, ":")
	if code == "" {
		return Clause{}, nil, false, p.bad(name, "no parameter name")
	}

	var prm *Param
	switch code {
	case ParamID:
		prm = &Param{Code: ParamID, Type: TypeToken}
		have = types
	case ParamLastUpdated:
		prm = &Param{Code: ParamLastUpdated, Type: TypeDate}
		have = types
	default:
		if prm, have, err = p.resolve(types, code, name, value); err != nil {
			return Clause{}, nil, false, err
		}
		if prm == nil {
			if len(types) == 0 {
				return skip("unknown search parameter %s for a system-level search (only the parameters of every resource apply)", quoteShort(code))
			}
			return skip("unknown search parameter %s for %s", quoteShort(code), strings.Join(types, ", "))
		}
		if !prm.Supported() {
			return skip("%s is not supported: %s", quoteShort(code), prm.Unsupported)
		}
	}

	if chained {
		if prm.Type != TypeReference || prm.Code == ParamID {
			return Clause{}, nil, false, p.bad(name, "%s is not a reference parameter and cannot be chained", code)
		}
		targets := prm.Targets
		if hasMod {
			if !resource.IsType(mod) {
				return Clause{}, nil, false, p.bad(name, "unknown chain target %s: not an R4 resource type", quoteShort(mod))
			}
			if len(targets) > 0 && !slices.Contains(targets, mod) {
				return Clause{}, nil, false, p.bad(name, "unknown chain target: %s does not refer to %s", code, mod)
			}
			targets = []string{mod}
		}
		if len(targets) == 0 {
			return Clause{}, nil, false, p.bad(name, "%s has no target types to chain into; name one (%s:Type.param)", code, code)
		}
		if chain == "" {
			return Clause{}, nil, false, p.bad(name, "empty chained parameter")
		}
		inner, innerHave, _, err := p.clause(targets, chain, value, depth+1, true)
		if err != nil {
			return Clause{}, nil, false, err
		}
		if len(innerHave) == 0 {
			innerHave = targets
		}
		pred := Predicate{Param: prm.Code, Type: TypeReference, Reference: &ReferenceMatch{Chain: &Query{Types: innerHave, Where: []Clause{inner}}}}
		return Clause{Or: []Predicate{pred}}, have, true, nil
	}

	if hasMod && mod == "missing" {
		if prm.Code == ParamID || prm.Code == ParamLastUpdated {
			return skip(":missing is not supported on %s", prm.Code)
		}
		var b bool
		switch value {
		case "true":
			b = true
		case "false":
		default:
			return Clause{}, nil, false, p.bad(name, ":missing takes true or false")
		}
		return Clause{Or: []Predicate{{Param: prm.Code, Type: prm.Type, Missing: &b}}}, have, true, nil
	}
	if why, err := p.checkModifier(prm, mod, name); err != nil {
		return Clause{}, nil, false, err
	} else if why != "" {
		return skip("%s", why)
	}
	for _, part := range splitEscaped(value, ',') {
		if part == "" {
			return Clause{}, nil, false, p.bad(name, "empty value between commas")
		}
		pred, err := p.predicate(prm, prm.Code, mod, part, name)
		if err != nil {
			return Clause{}, nil, false, err
		}
		c.Or = append(c.Or, pred)
	}
	return c, have, true, nil
}

// checkModifier returns why modifier mod is not supported on prm, or "";
// an error when the modifier is malformed.
func (p *parser) checkModifier(prm *Param, mod, name string) (string, error) {
	if mod == "" {
		return "", nil
	}
	if prm.Code == ParamID || prm.Code == ParamLastUpdated {
		return fmt.Sprintf("modifier :%s is not supported on %s", mod, prm.Code), nil
	}
	ok := false
	switch prm.Type {
	case TypeString:
		ok = mod == "exact" || mod == "contains"
	case TypeToken:
		switch mod {
		case "not", "text", "of-type":
			ok = true
		case "in", "not-in", "above", "below":
			return fmt.Sprintf("terminology modifier :%s is not supported", mod), nil
		}
	case TypeReference:
		switch {
		case mod == "identifier":
			ok = true
		case resource.IsType(mod):
			if len(prm.Targets) > 0 && !slices.Contains(prm.Targets, mod) {
				return "", p.bad(name, "%s does not refer to %s", prm.Code, mod)
			}
			ok = true
		case mod == "above" || mod == "below":
			return fmt.Sprintf("modifier :%s is not supported on reference parameters", mod), nil
		}
	case TypeURI:
		ok = mod == "below" || mod == "above"
	}
	if !ok {
		return fmt.Sprintf("modifier :%s is not supported on %s parameters", mod, prm.Type), nil
	}
	return "", nil
}

// predicate parses one comma-separated value (still escaped) of prm, indexed
// under param.
func (p *parser) predicate(prm *Param, param, mod, raw, name string) (Predicate, error) {
	pred := Predicate{Param: param, Type: prm.Type}
	bad := func(format string, args ...any) (Predicate, error) {
		return Predicate{}, p.bad(name, format, args...)
	}
	switch prm.Type {
	case TypeString:
		s := unescape(raw)
		switch mod {
		case "exact":
			pred.String = &StringMatch{Mode: StringExact, Value: s}
		case "contains":
			pred.String = &StringMatch{Mode: StringContains, Value: Normalize(s)}
		default:
			pred.String = &StringMatch{Mode: StringStartsWith, Value: Normalize(s)}
		}
	case TypeToken:
		if mod == "text" {
			pred.Token = &TokenMatch{Text: Normalize(unescape(raw))}
			if pred.Token.Text == "" {
				return bad(":text needs some text")
			}
			break
		}
		if mod == "of-type" {
			parts := splitEscaped(raw, '|')
			if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
				return bad(":of-type takes system|code|value")
			}
			pred.Param = OfTypeParam(param)
			pred.Token = &TokenMatch{System: unescape(parts[0]), SystemSet: true, Code: unescape(parts[1]) + "|" + unescape(parts[2])}
			break
		}
		tm, err := parseToken(raw)
		if err != nil {
			return bad("%v", err)
		}
		if prm.Code == ParamID && (tm.SystemSet || tm.Code == "") {
			return bad("_id takes a resource id")
		}
		pred.Token = tm
		pred.Not = mod == "not"
	case TypeDate:
		pre, v, err := prefix(raw, prm)
		if err != nil {
			return bad("%v", err)
		}
		lo, hi, err := DateRange(v)
		if err != nil {
			return bad("%v", err)
		}
		pred.Date = &DateMatch{Prefix: pre, Low: lo, High: hi}
	case TypeNumber:
		pre, v, err := prefix(raw, prm)
		if err != nil {
			return bad("%v", err)
		}
		val, lo, hi, err := DecimalRange(v)
		if err != nil {
			return bad("%v", err)
		}
		pred.Number = &NumberMatch{Prefix: pre, Value: val, Low: lo, High: hi}
	case TypeQuantity:
		qm, err := parseQuantity(raw, prm)
		if err != nil {
			return bad("%v", err)
		}
		pred.Quantity = qm
	case TypeReference:
		if mod == "identifier" {
			tm, err := parseToken(raw)
			if err != nil {
				return bad("%v", err)
			}
			pred.Reference = &ReferenceMatch{Identifier: tm}
			break
		}
		rm, err := p.parseReference(unescape(raw), prm, mod)
		if err != nil {
			return bad("%v", err)
		}
		pred.Reference = rm
	case TypeURI:
		pred.URI = &URIMatch{Value: unescape(raw), Below: mod == "below", Above: mod == "above"}
	case TypeComposite:
		parts := splitEscaped(raw, '$')
		if len(parts) != len(prm.Components) {
			return bad("a %s value has %d components separated by $, not %d", prm.Code, len(prm.Components), len(parts))
		}
		for i, c := range prm.Components {
			if parts[i] == "" {
				return bad("component %d is empty", i+1)
			}
			cp := &Param{Code: c.Code, Type: c.Type}
			sub, err := p.predicate(cp, CompositeComponent(param, i), "", parts[i], name)
			if err != nil {
				return Predicate{}, err
			}
			pred.Composite = append(pred.Composite, sub)
		}
	default:
		return bad("parameters of type %s cannot be searched", prm.Type)
	}
	return pred, nil
}

// parseToken parses code, system|code, |code or system|.
func parseToken(raw string) (*TokenMatch, error) {
	parts := splitEscaped(raw, '|')
	switch len(parts) {
	case 1:
		return &TokenMatch{Code: unescape(parts[0])}, nil
	case 2:
		tm := &TokenMatch{System: unescape(parts[0]), SystemSet: true, Code: unescape(parts[1])}
		if tm.System == "" && tm.Code == "" {
			return nil, fmt.Errorf("a token is code, system|code, |code or system|")
		}
		return tm, nil
	}
	return nil, fmt.Errorf("a token is code, system|code, |code or system| (escape a literal | as \\|)")
}

// prefix splits a comparison prefix off a number, date or quantity value.
func prefix(raw string, prm *Param) (Prefix, string, error) {
	if len(raw) < 2 || !isLower(raw[0]) || !isLower(raw[1]) {
		return Eq, raw, nil
	}
	pre := Prefix(raw[:2])
	switch pre {
	case Eq, Ne, Gt, Lt, Ge, Le, Sa, Eb, Ap:
	default:
		return "", "", fmt.Errorf("unknown prefix %q (eq, ne, gt, lt, ge, le, sa, eb, ap)", raw[:2])
	}
	if len(prm.Comparators) > 0 && !slices.Contains(prm.Comparators, pre) {
		return "", "", fmt.Errorf("prefix %s is not allowed on %s", pre, prm.Code)
	}
	return pre, raw[2:], nil
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

// parseQuantity parses [prefix]number[|system|code], and number||code.
func parseQuantity(raw string, prm *Param) (*QuantityMatch, error) {
	parts := splitEscaped(raw, '|')
	if len(parts) != 1 && len(parts) != 3 {
		return nil, fmt.Errorf("a quantity is [prefix]number, number|system|code or number||code")
	}
	pre, num, err := prefix(parts[0], prm)
	if err != nil {
		return nil, err
	}
	val, lo, hi, err := DecimalRange(num)
	if err != nil {
		return nil, err
	}
	qm := &QuantityMatch{Prefix: pre, Value: val, Low: lo, High: hi}
	if len(parts) == 3 {
		qm.System, qm.Code = unescape(parts[1]), unescape(parts[2])
	}
	if qm.System == UCUM && qm.Code != "" {
		if canon, v, ok := Canonical(qm.Code, val); ok {
			_, l, _ := Canonical(qm.Code, lo)
			_, h, _ := Canonical(qm.Code, hi)
			qm.Code, qm.Value, qm.Low, qm.High, qm.Canonical = canon, v, l, h, true
		}
	}
	return qm, nil
}

// parseReference parses a reference value: id, Type/id, an absolute URL
// (local when under the base URL) or a canonical url|version.
func (p *parser) parseReference(v string, prm *Param, typeMod string) (*ReferenceMatch, error) {
	if v == "" {
		return nil, fmt.Errorf("empty reference")
	}
	checkType := func(t string) error {
		if len(prm.Targets) > 0 && !slices.Contains(prm.Targets, t) {
			return fmt.Errorf("%s does not refer to %s", prm.Code, t)
		}
		if typeMod != "" && t != typeMod {
			return fmt.Errorf("the reference is to %s, the modifier says %s", t, typeMod)
		}
		return nil
	}
	if strings.Contains(v, ":") {
		if i := strings.IndexByte(v, '|'); i >= 0 {
			v = v[:i] // canonical url|version: rows keep the URL only
		}
		typ, id, url, _ := p.r.splitReference(v)
		if url != "" {
			return &ReferenceMatch{URL: url}, nil
		}
		if err := checkType(typ); err != nil {
			return nil, err
		}
		return &ReferenceMatch{Type: typ, ID: id}, nil
	}
	if strings.Contains(v, "/") {
		typ, id, ok := relativeReference(v)
		if !ok {
			return nil, fmt.Errorf("not a reference: Type/id, id or an absolute URL")
		}
		if err := checkType(typ); err != nil {
			return nil, err
		}
		return &ReferenceMatch{Type: typ, ID: id}, nil
	}
	if !validID(v) {
		return nil, fmt.Errorf("not a resource id ([A-Za-z0-9.-]{1,64})")
	}
	return &ReferenceMatch{Type: typeMod, ID: v}, nil
}

// has parses _has:Type:param:rest=value.
func (p *parser) has(types []string, name, rest, value string, depth int) (Clause, []string, bool, error) {
	t, rest1, ok1 := strings.Cut(rest, ":")
	ref, inner, ok2 := strings.Cut(rest1, ":")
	if !ok1 || !ok2 || t == "" || ref == "" || inner == "" {
		return Clause{}, nil, false, p.bad(name, "_has takes _has:Type:parameter:searchParameter")
	}
	if p.r.defs.byType[t] == nil {
		return Clause{}, nil, false, p.bad(name, "%s is not an R4 resource type", quoteShort(t))
	}
	prm, ok := p.r.Lookup(t, ref)
	if !ok || prm.Type != TypeReference {
		return Clause{}, nil, false, p.bad(name, "%s has no reference parameter %s", t, quoteShort(ref))
	}
	if !prm.Supported() {
		return Clause{}, nil, false, p.bad(name, "%s.%s is not supported: %s", t, ref, prm.Unsupported)
	}
	if len(types) > 0 && len(prm.Targets) > 0 && !slices.ContainsFunc(types, func(x string) bool { return slices.Contains(prm.Targets, x) }) {
		return Clause{}, nil, false, p.bad(name, "%s.%s does not refer to %s", t, ref, strings.Join(types, " or "))
	}
	c, _, _, err := p.clause([]string{t}, inner, value, depth+1, true)
	if err != nil {
		return Clause{}, nil, false, err
	}
	pred := Predicate{Param: ParamHas, Type: TypeReference, Has: &Has{Type: t, Param: ref, Where: []Clause{c}}}
	return Clause{Or: []Predicate{pred}}, types, true, nil
}

// splitEscaped splits s at each sep that is not escaped by a backslash;
// the parts keep their escapes.
func splitEscaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescape removes the backslash of \, \| \$ and \\.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case ',', '|', '$', '\\':
				i++
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// CompartmentClause returns the clause that keeps, of a search of
// resourceType, the resources in the compartment compartmentType/id (the
// Patient compartment of Patient/123): any of the compartment's parameters
// of that type refers to it, or, for the compartment's own type, the
// resource is that one. ok is false when resources of resourceType are
// never in such a compartment.
func (r *Registry) CompartmentClause(compartmentType, id, resourceType string) (c Clause, ok bool) {
	for _, code := range r.Compartment(compartmentType, resourceType) {
		prm, found := r.Lookup(resourceType, code)
		if !found || prm.Type != TypeReference || !prm.Supported() {
			continue
		}
		c.Or = append(c.Or, Predicate{Param: code, Type: TypeReference, Reference: &ReferenceMatch{Type: compartmentType, ID: id}})
	}
	if resourceType == compartmentType {
		c.Or = append(c.Or, Predicate{Param: ParamID, Type: TypeToken, Token: &TokenMatch{Code: id}})
	}
	return c, len(c.Or) > 0
}
