package search

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/telefhir/telefhir/conformance/r4"
	"github.com/telefhir/telefhir/fhir/fhirpath"
	"github.com/telefhir/telefhir/fhir/resource"
)

// Registry knows the search parameters of every R4 resource type, built
// once from the official definitions (conformance/r4). It is immutable and
// safe for concurrent use.
type Registry struct {
	defs *definitions
	// base is the server's base URL without a trailing slash; absolute
	// references under it are local.
	base string
}

// Options configure a Registry.
type Options struct {
	// BaseURL is the server's FHIR base ("https://ehr.example.org/fhir").
	// Absolute references that start with it are indexed, and searched, as
	// local Type/id references. Empty: every absolute reference is a URL.
	BaseURL string
}

// Param is one search parameter of one resource type.
type Param struct {
	Code string
	Type Type
	// Resource is the resource type this entry belongs to; Resource-level
	// parameters (_tag, ...) have one entry per type.
	Resource string
	// URL is the canonical URL of the SearchParameter definition.
	URL string
	// Expression is the definition's FHIRPath expression restricted to the
	// branches for Resource ("Patient.name | Person.name" is "Patient.name"
	// for Patient).
	Expression string
	// Targets are the resource types a reference parameter may point to.
	Targets []string
	// Comparators are the prefixes the definition allows (number, date and
	// quantity parameters); empty means all.
	Comparators []Prefix
	// Components are a composite parameter's components, in order.
	Components []Component
	// Unsupported says why the server does not support the parameter; it
	// is "" for supported ones. Unsupported parameters are never indexed
	// and searching on them yields a not-supported issue.
	Unsupported string

	expr *fhirpath.Expr // nil for _id and _lastUpdated, kept on the resource row
	comp *compositeExprs
	// roots are the top-level elements of the resource the expression can
	// read (see rootElements); nil when it may read anything.
	roots []string
}

// Component is one component of a composite parameter.
type Component struct {
	// Code and Type are those of the component's own parameter definition
	// (the composite's values are searched and indexed with its type).
	Code string
	Type Type
	// Definition is the canonical URL of that definition.
	Definition string
	// Expression is relative to the element the composite's expression
	// selects.
	Expression string
}

// Supported reports whether p can be indexed and searched.
func (p *Param) Supported() bool { return p.Unsupported == "" }

// Sortable reports whether _sort accepts p: every supported parameter of a
// type whose values have an order (string, token, date, number, quantity,
// uri). Which value of a multi-valued parameter counts is the store's
// choice.
func (p *Param) Sortable() bool {
	if !p.Supported() {
		return false
	}
	switch p.Type {
	case TypeString, TypeToken, TypeDate, TypeNumber, TypeQuantity, TypeURI:
		return true
	}
	return false
}

// CompositeComponent is the parameter name under which the values of
// component i (0-based) of composite parameter param are indexed and
// searched: "code-value-quantity$1".
func CompositeComponent(param string, i int) string {
	return param + "$" + strconv.Itoa(i)
}

// IdentifierParam is the parameter name under which the identifiers of a
// reference parameter's values (Reference.identifier) are indexed as
// tokens, for the :identifier modifier: "subject:identifier".
func IdentifierParam(param string) string { return param + ":identifier" }

// OfTypeParam is the parameter name under which a token parameter's
// Identifier values are indexed for :of-type: System is the identifier
// type's coding system and Code its code, a "|", and the identifier value.
func OfTypeParam(param string) string { return param + ":of-type" }

// definitions are the compiled parameters; they do not depend on Options
// and are built once per process.
type definitions struct {
	byType map[string]*typeParams
	// compartments maps compartment type → resource type → params.
	compartments map[string]map[string][]string
}

type typeParams struct {
	byCode      map[string]*Param
	supported   []*Param // sorted by code
	unsupported []*Param // sorted by code
	indexed     []*Param // supported, in the index (not _id, _lastUpdated)
}

var (
	defsOnce sync.Once
	defsVal  *definitions
	defsErr  error
)

// NewRegistry returns the registry of the R4 search parameters. The
// definitions are compiled on the first call and shared by every registry
// (only Options differ).
func NewRegistry(opts Options) (*Registry, error) {
	defsOnce.Do(func() { defsVal, defsErr = buildDefinitions() })
	if defsErr != nil {
		return nil, defsErr
	}
	return &Registry{defs: defsVal, base: strings.TrimRight(opts.BaseURL, "/")}, nil
}

// BaseURL is the server base the registry was built with (no trailing
// slash; empty when none was given).
func (r *Registry) BaseURL() string { return r.base }

// Types are the resource types the registry knows, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.defs.byType))
	for t := range r.defs.byType {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Lookup returns the parameter code of resource type typ, supported or
// not (see Param.Supported).
func (r *Registry) Lookup(typ, code string) (*Param, bool) {
	tp := r.defs.byType[typ]
	if tp == nil {
		return nil, false
	}
	p, ok := tp.byCode[code]
	return p, ok
}

// Params returns the supported parameters of typ, sorted by code. The
// caller must not modify them.
func (r *Registry) Params(typ string) []*Param {
	if tp := r.defs.byType[typ]; tp != nil {
		return tp.supported
	}
	return nil
}

// Unsupported returns the parameters of typ that the server does not
// support, with the reason in Param.Unsupported.
func (r *Registry) Unsupported(typ string) []*Param {
	if tp := r.defs.byType[typ]; tp != nil {
		return tp.unsupported
	}
	return nil
}

// Compartment returns the parameters of resourceType that put a resource
// into a compartment of compartmentType ("Patient", "Encounter",
// "RelatedPerson", "Practitioner", "Device"), as the R4
// CompartmentDefinition lists them; nil when resources of that type are
// never in such a compartment. The compartment's own type lists no
// parameter for itself ("{def}").
func (r *Registry) Compartment(compartmentType, resourceType string) []string {
	return r.defs.compartments[compartmentType][resourceType]
}

// CompartmentTypes are the compartment types the registry knows.
func (r *Registry) CompartmentTypes() []string {
	return r4.CompartmentTypes()
}

func buildDefinitions() (*definitions, error) {
	sps, err := r4.SearchParameters()
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	byURL := make(map[string]*r4.SearchParameter, len(sps))
	for i := range sps {
		byURL[sps[i].URL] = &sps[i]
	}
	d := &definitions{byType: map[string]*typeParams{}, compartments: map[string]map[string][]string{}}
	types := resource.Types()
	for _, t := range types {
		d.byType[t] = &typeParams{byCode: map[string]*Param{}}
	}
	cache := map[string]compiled{}
	for i := range sps {
		sp := &sps[i]
		var bases []string
		for _, b := range sp.Base {
			switch {
			case b == "Resource":
				bases = append(bases, types...)
			case b == "DomainResource":
				for _, t := range types {
					if !notDomain[t] {
						bases = append(bases, t)
					}
				}
			case d.byType[b] != nil:
				bases = append(bases, b)
			default:
				return nil, fmt.Errorf("search: %s: base %q is not an R4 resource type", sp.ID, b)
			}
		}
		for _, typ := range bases {
			p := newParam(sp, typ, byURL, cache)
			tp := d.byType[typ]
			if old, dup := tp.byCode[p.Code]; dup {
				return nil, fmt.Errorf("search: %s has two parameters %q (%s, %s)", typ, p.Code, old.URL, p.URL)
			}
			tp.byCode[p.Code] = p
		}
	}
	for _, tp := range d.byType {
		for _, p := range tp.byCode {
			if p.Supported() {
				tp.supported = append(tp.supported, p)
				if p.expr != nil {
					tp.indexed = append(tp.indexed, p)
				}
			} else {
				tp.unsupported = append(tp.unsupported, p)
			}
		}
		byCode := func(a, b *Param) int { return strings.Compare(a.Code, b.Code) }
		slices.SortFunc(tp.supported, byCode)
		slices.SortFunc(tp.unsupported, byCode)
		slices.SortFunc(tp.indexed, byCode)
	}
	for _, ct := range r4.CompartmentTypes() {
		cd, err := r4.Compartment(ct)
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		m := map[string][]string{}
		for _, res := range cd.Resource {
			var params []string
			for _, p := range res.Param {
				if p != "{def}" {
					params = append(params, p)
				}
			}
			if len(params) > 0 {
				m[res.Code] = params
			}
		}
		d.compartments[ct] = m
	}
	return d, nil
}

type compiled struct {
	expr *fhirpath.Expr
	err  error
}

func compileCached(cache map[string]compiled, src string) (*fhirpath.Expr, error) {
	if c, ok := cache[src]; ok {
		return c.expr, c.err
	}
	e, err := fhirpath.Compile(src)
	cache[src] = compiled{e, err}
	return e, err
}

// newParam builds the entry of definition sp for resource type typ.
func newParam(sp *r4.SearchParameter, typ string, byURL map[string]*r4.SearchParameter, cache map[string]compiled) *Param {
	p := &Param{
		Code:     sp.Code,
		Type:     Type(sp.Type),
		Resource: typ,
		URL:      sp.URL,
		Targets:  sp.Target,
	}
	for _, c := range sp.Comparator {
		p.Comparators = append(p.Comparators, Prefix(c))
	}
	switch p.Code {
	case ParamID, ParamLastUpdated:
		// Kept on the resource row, not in the index.
		p.Expression = sp.Expression
		return p
	}
	switch p.Type {
	case TypeNumber, TypeDate, TypeString, TypeToken, TypeReference, TypeComposite, TypeQuantity, TypeURI:
	case TypeSpecial:
		p.Unsupported = "parameters of type special are not supported"
		return p
	default:
		p.Unsupported = fmt.Sprintf("unknown parameter type %q", sp.Type)
		return p
	}
	if sp.Expression == "" {
		switch p.Code {
		case "_text", "_content":
			p.Unsupported = "full-text search is not supported"
		case "_query":
			p.Unsupported = "named queries are not supported"
		default:
			p.Unsupported = "the definition has no FHIRPath expression"
		}
		return p
	}
	p.Expression = restrict(sp.Expression, typ)
	if p.Expression == "" {
		p.Unsupported = fmt.Sprintf("the expression has no branch for %s", typ)
		return p
	}
	if p.Type == TypeReference && selectsResource(p.Expression) {
		p.Unsupported = "the expression selects a whole resource, not a reference"
		return p
	}
	e, err := compileCached(cache, p.Expression)
	if err != nil {
		p.Unsupported = "the expression is outside the supported FHIRPath subset: " + err.Error()
		return p
	}
	p.expr = e
	if p.Type != TypeComposite { // components may read anything
		p.roots = rootElements(p.Expression, typ)
	}
	if p.Type == TypeComposite {
		c, why := newComposite(p, sp, typ, byURL, cache)
		if why != "" {
			p.Unsupported, p.expr = why, nil
			return p
		}
		p.comp = c
	}
	return p
}

// newComposite compiles the components of composite p (filling
// p.Components), or says why it cannot.
func newComposite(p *Param, sp *r4.SearchParameter, typ string, byURL map[string]*r4.SearchParameter, cache map[string]compiled) (*compositeExprs, string) {
	if len(sp.Component) == 0 {
		return nil, "composite without components"
	}
	branches, ok := splitUnion(p.Expression)
	if !ok {
		return nil, "the composite expression is not a union of paths"
	}
	c := &compositeExprs{}
	var comps []string
	for i, comp := range sp.Component {
		def := byURL[comp.Definition]
		if def == nil {
			return nil, fmt.Sprintf("component %d: unknown definition %s", i, comp.Definition)
		}
		switch Type(def.Type) {
		case TypeNumber, TypeDate, TypeString, TypeToken, TypeReference, TypeQuantity, TypeURI:
		default:
			return nil, fmt.Sprintf("component %d: a %s component is not supported", i, def.Type)
		}
		expr := comp.Expression
		if fixed, ok := errata[expr]; ok {
			expr = fixed
		}
		p.Components = append(p.Components, Component{Code: def.Code, Type: Type(def.Type), Definition: def.URL, Expression: expr})
		comps = append(comps, expr)
		if strings.Contains(expr, "%") {
			c.copyAll = true // %resource: the element alone is not enough
		}
	}
	for _, b := range branches {
		root, field, hasField := strings.Cut(b, ".")
		if root != typ || (hasField && !isIdent(field)) {
			return nil, fmt.Sprintf("composite branch %q is not %s or %s.element", b, typ, typ)
		}
		cb := compositeBranch{field: field}
		for j, ce := range comps {
			e, err := compileCached(cache, b+".select("+ce+")")
			if err != nil {
				return nil, fmt.Sprintf("component %d: the expression is outside the supported FHIRPath subset: %v", j, err)
			}
			cb.comps = append(cb.comps, e)
		}
		c.branches = append(c.branches, cb)
	}
	last := len(comps) - 1
	present, err := compileCached(cache, "("+p.Expression+").select("+comps[last]+")")
	if err != nil {
		return nil, fmt.Sprintf("component %d: the expression is outside the supported FHIRPath subset: %v", last, err)
	}
	c.present = present
	return c, ""
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c == '_' || isDigitByte(c) || ('a' <= c|0x20 && c|0x20 <= 'z')) {
			return false
		}
	}
	return true
}

// notDomain are the resource types that are not DomainResources: they
// have no narrative, so DomainResource parameters (_text) do not apply.
var notDomain = map[string]bool{"Bundle": true, "Binary": true, "Parameters": true}

// errata correct R4 expressions that are wrong as published: the
// component of Observation-code-value-date names the System type DateTime,
// which no FHIR dateTime value is (R5 writes value.ofType(dateTime)).
var errata = map[string]string{
	"value.as(DateTime) | value.as(Period)": "value.as(dateTime) | value.as(Period)",
}

// selectsResource reports whether a reference parameter's expression
// selects whole resources (Bundle.entry[0].resource) rather than
// references.
func selectsResource(expr string) bool {
	return strings.HasSuffix(expr, "entry[0].resource")
}

// restrict keeps, of the top-level union branches of expr, those that
// apply to resource type typ: a branch that starts with another resource
// type's name is dropped. An expression whose top level has operators
// other than | is returned whole (the type filter inside it still only
// matches typ). "" means no branch applies.
func restrict(expr, typ string) string {
	branches, ok := splitUnion(expr)
	if !ok {
		return expr
	}
	kept := branches[:0:0]
	for _, b := range branches {
		lead := leadingType(b)
		if lead != "" && lead != typ && resource.IsType(lead) {
			continue
		}
		kept = append(kept, b)
	}
	return strings.Join(kept, " | ")
}

// splitUnion splits expr at its top-level | operators. ok is false when
// its top level has another binary operator of lower precedence than |
// (=, !=, and, or, ...), which would make the split wrong.
func splitUnion(expr string) (branches []string, ok bool) {
	depth := 0
	start := 0
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; c {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case '\'', '`':
			for i++; i < len(expr) && expr[i] != c; i++ {
				if expr[i] == '\\' {
					i++
				}
			}
		case '|':
			if depth == 0 {
				branches = append(branches, strings.TrimSpace(expr[start:i]))
				start = i + 1
			}
		case '=', '<', '>', '~', '!':
			if depth == 0 {
				return nil, false
			}
		default:
			if depth == 0 && (i == 0 || expr[i-1] == ' ') {
				for _, w := range [...]string{"and ", "or ", "xor ", "implies "} {
					if strings.HasPrefix(expr[i:], w) {
						return nil, false
					}
				}
			}
		}
	}
	return append(branches, strings.TrimSpace(expr[start:])), true
}

// leadingType is the capitalised name a path starts with, after any
// opening parentheses: "Observation" for "(Observation.value as Quantity)".
func leadingType(b string) string {
	b = strings.TrimLeft(b, "( ")
	n := 0
	for n < len(b) && (b[n] == '_' || isDigitByte(b[n]) || ('a' <= b[n]|0x20 && b[n]|0x20 <= 'z')) {
		n++
	}
	if n == 0 || b[0] < 'A' || b[0] > 'Z' {
		return ""
	}
	return b[:n]
}

// compositeExprs evaluates a composite's components per element. The
// component expressions are relative to each element the composite's
// expression selects; every R4 composite expression is a union of
// branches Type (the resource is the element) and Type.element (each
// item of that element is one). For a Type.element branch the
// components are evaluated, as Type.element.select(component), on a
// stand-in resource that holds only the one item: linear in the number of
// items, with the model's types intact.
type compositeExprs struct {
	branches []compositeBranch
	// present selects the last component's values of all elements at
	// once: when it finds none (an Observation without a value), no
	// element can be indexed and the per-element work is skipped.
	present *fhirpath.Expr
	// copyAll: a component reaches outside its element (%resource), so
	// the stand-in is a copy of the whole resource, not just the item.
	copyAll bool
}

type compositeBranch struct {
	field string           // "" when the element is the resource itself
	comps []*fhirpath.Expr // per component: Type[.field].select(component)
}

// rootElements returns the top-level elements of a typ resource that
// expr can read — the names after "typ." (or "Resource.",
// "DomainResource.") at each path's start — and "contained", which
// resolve() reads for "#id" references. It returns nil when the text does
// not tell: a variable (%resource), or the resource itself selected (as
// composites do), or a path that does not start at the resource.
func rootElements(expr, typ string) []string {
	if strings.ContainsAny(expr, "%$") {
		return nil
	}
	out := []string{"contained"}
	for i := 0; i < len(expr); {
		c := expr[i]
		if c == '\'' || c == '`' { // skip literals and delimited identifiers
			j := strings.IndexByte(expr[i+1:], c)
			if j < 0 {
				return nil
			}
			i += j + 2
			continue
		}
		if !isIdentByte(c) {
			i++
			continue
		}
		j := i
		for j < len(expr) && isIdentByte(expr[j]) {
			j++
		}
		word := expr[i:j]
		prevDot := i > 0 && expr[i-1] == '.'
		if prevDot || (word != typ && word != "Resource" && word != "DomainResource") {
			i = j
			continue
		}
		// A path starting at the resource: its first element is a root.
		if j >= len(expr) || expr[j] != '.' {
			if isTypeArgument(expr, i) {
				i = j
				continue
			}
			return nil
		}
		k := j + 1
		for k < len(expr) && isIdentByte(expr[k]) {
			k++
		}
		if k == j+1 {
			return nil
		}
		out = append(out, expr[j+1:k])
		i = k
	}
	if len(out) == 1 {
		return nil
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isTypeArgument reports whether the word at i is a type name given to
// is, as, ofType(...) or the like, not a path.
func isTypeArgument(expr string, i int) bool {
	before := strings.TrimRight(expr[:i], " ")
	for _, s := range []string{" is", " as", "ofType(", "is(", "as("} {
		if strings.HasSuffix(before, s) {
			return true
		}
	}
	return false
}
