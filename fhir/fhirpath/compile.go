package fhirpath

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Expr is a compiled FHIRPath expression. It is safe for concurrent use.
type Expr struct {
	src  string
	root node
}

// String returns the expression's source text.
func (e *Expr) String() string { return e.src }

// Compile parses and checks a FHIRPath expression. Besides syntax errors it
// rejects what the evaluator does not support (functions, operators,
// literals and variables outside the subset described in the package
// documentation), unknown type names, and paths that name no element of
// the R4 model where the type is known ("Patient.nmae"). Errors are
// *SyntaxError values.
func Compile(expr string) (*Expr, error) {
	a, err := parse(expr)
	if err != nil {
		return nil, err
	}
	c := &compiler{src: expr, m: r4()}
	n, _, err := c.compile(a, nil, true)
	if err != nil {
		return nil, err
	}
	return &Expr{src: expr, root: n}, nil
}

// MustCompile is Compile for expressions known to be valid; it panics on
// error.
func MustCompile(expr string) *Expr {
	e, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return e
}

// static is what the compiler knows of a collection's item types: nil when
// unknown, else the possible model types.
type static []*typeInfo

type compiler struct {
	src string
	m   *model
	// this is the static type of $this in the criteria being compiled.
	this []static
}

func (c *compiler) errf(pos int, format string, args ...any) error {
	return &SyntaxError{Expr: c.src, Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

// compile compiles a, evaluated with a focus of static type in. start says
// that a begins a path, where a type name filters the focus.
func (c *compiler) compile(a *ast, in static, start bool) (node, static, error) {
	switch a.kind {
	case aIdent:
		// Like fhirpath.js, only a capitalised name is a type here: code,
		// string, … are element names.
		if start && !a.quoted && a.name[0] >= 'A' && a.name[0] <= 'Z' && c.m.validType(a.name) {
			var st static
			if t := c.m.types[a.name]; t != nil {
				st = static{t}
			}
			return &typeFilterNode{name: a.name}, st, nil
		}
		return c.child(a, in)
	case aFunc:
		return c.function(a, in)
	case aInvoke:
		left, lst, err := c.compile(a.left, in, start)
		if err != nil {
			return nil, nil, err
		}
		right, rst, err := c.compile(a.right, lst, false)
		if err != nil {
			return nil, nil, err
		}
		return &pathNode{left: left, right: right}, rst, nil
	case aIndex:
		left, lst, err := c.compile(a.left, in, start)
		if err != nil {
			return nil, nil, err
		}
		i, err := c.intLiteral(a.right)
		if err != nil {
			return nil, nil, err
		}
		return &indexNode{left: left, index: i}, lst, nil
	case aString:
		return &constNode{vals: []Value{{Node: a.name, Type: sysString}}}, nil, nil
	case aNumber:
		return c.number(a.name, a.pos)
	case aBool:
		return &constNode{vals: []Value{boolValue(a.name == "true")}}, nil, nil
	case aEmpty:
		return &constNode{}, nil, nil
	case aEnv:
		switch a.name {
		case "resource", "rootResource", "context":
			return rootNode{}, nil, nil
		case "ucum":
			return stringConst("http://unitsofmeasure.org"), nil, nil
		case "sct":
			return stringConst("http://snomed.info/sct"), nil, nil
		case "loinc":
			return stringConst("http://loinc.org"), nil, nil
		}
		return nil, nil, c.errf(a.pos, "unknown variable %%%s", a.name)
	case aSpecial:
		if a.name != "this" {
			return nil, nil, c.errf(a.pos, "$%s is not supported", a.name)
		}
		var st static
		if len(c.this) > 0 {
			st = c.this[len(c.this)-1]
		}
		return thisNode{}, st, nil
	case aUnary:
		if a.name == "-" && a.left.kind == aNumber {
			return c.number("-"+a.left.name, a.pos)
		}
		return nil, nil, c.errf(a.pos, "unary %q is not supported", a.name)
	case aType:
		x, _, err := c.compile(a.left, in, start)
		if err != nil {
			return nil, nil, err
		}
		if err := c.checkType(a.typ); err != nil {
			return nil, nil, err
		}
		if a.name == "is" {
			if a.left.kind == aFunc && a.left.name == "resolve" {
				// resolve() is T, the common R4 pattern, without
				// building the resolved resource.
				return &resolveIsNode{t: a.typ}, nil, nil
			}
			return &isNode{x: x, t: a.typ, op: "is"}, nil, nil
		}
		return &asNode{x: x, t: a.typ}, c.typeStatic(a.typ), nil
	case aBinary:
		return c.binary(a, in)
	}
	return nil, nil, c.errf(a.pos, "unsupported expression")
}

func stringConst(s string) node { return &constNode{vals: []Value{{Node: s, Type: sysString}}} }

func (c *compiler) number(text string, pos int) (node, static, error) {
	t := sysInteger
	if strings.Contains(text, ".") {
		t = sysDecimal
	}
	if _, ok := ratOf(json.Number(text)); !ok {
		return nil, nil, c.errf(pos, "bad number %q", text)
	}
	return &constNode{vals: []Value{{Node: json.Number(text), Type: t}}}, nil, nil
}

func (c *compiler) intLiteral(a *ast) (int, error) {
	neg := false
	if a.kind == aUnary && a.name == "-" {
		neg, a = true, a.left
	}
	if a.kind != aNumber || strings.Contains(a.name, ".") {
		return 0, c.errf(a.pos, "expected an integer literal")
	}
	n := 0
	for _, d := range a.name {
		n = n*10 + int(d-'0')
		if n > 1<<30 {
			return 0, c.errf(a.pos, "integer %s out of range", a.name)
		}
	}
	if neg {
		n = -n
	}
	return n, nil
}

// child compiles navigation to the element a.name.
func (c *compiler) child(a *ast, in static) (node, static, error) {
	n := &childNode{name: a.name, extName: "_" + a.name}
	if in == nil {
		return n, nil, nil
	}
	var out static
	unknown := false
	found := false
	for _, t := range in {
		f := t.fields[a.name]
		if f == nil {
			continue
		}
		found = true
		switch {
		case f.resource:
			unknown = true
		case f.choices != nil:
			for _, ch := range f.choices {
				out = out.add(ch.typ)
			}
		default:
			out = out.add(f.typ)
		}
	}
	if !found {
		names := make([]string, 0, len(in))
		for _, t := range in {
			names = append(names, t.name)
		}
		return nil, nil, c.errf(a.pos, "%s has no element %q", strings.Join(names, " or "), a.name)
	}
	if unknown {
		out = nil
	}
	return n, out, nil
}

func (s static) add(t *typeInfo) static {
	for _, x := range s {
		if x == t {
			return s
		}
	}
	return append(s, t)
}

func (c *compiler) validTypeSpec(t typeSpec) bool {
	switch t.ns {
	case "System":
		return systemTypes[t.name]
	case "FHIR":
		return c.m.validType(t.name)
	}
	return systemTypes[t.name] || c.m.validType(t.name)
}

var systemTypes = map[string]bool{
	"Any": true, "Boolean": true, "String": true, "Integer": true, "Long": true,
	"Decimal": true, "Date": true, "DateTime": true, "Time": true, "Quantity": true,
}

func (c *compiler) checkType(t typeSpec) error {
	if !c.validTypeSpec(t) {
		return c.errf(t.pos, "unknown type %s", t)
	}
	return nil
}

func (c *compiler) typeStatic(t typeSpec) static {
	if t.ns == "System" {
		return nil
	}
	if ti := c.m.types[t.name]; ti != nil && !ti.abstract() {
		return static{ti}
	}
	return nil
}

// typeArg reads the type specifier argument of as(), is() and ofType().
func (c *compiler) typeArg(f *ast) (typeSpec, error) {
	if len(f.args) != 1 {
		return typeSpec{}, c.errf(f.pos, "%s() takes one type name", f.name)
	}
	a := f.args[0]
	var ts typeSpec
	switch {
	case a.kind == aIdent:
		ts = typeSpec{name: a.name, pos: a.pos}
	case a.kind == aInvoke && a.left.kind == aIdent && a.right.kind == aIdent &&
		(a.left.name == "FHIR" || a.left.name == "System"):
		ts = typeSpec{ns: a.left.name, name: a.right.name, pos: a.left.pos}
	default:
		return typeSpec{}, c.errf(a.pos, "%s() takes a type name", f.name)
	}
	return ts, c.checkType(ts)
}

func (c *compiler) function(f *ast, in static) (node, static, error) {
	nargs := func(n int) error {
		if len(f.args) != n {
			return c.errf(f.pos, "%s() takes %d argument(s), got %d", f.name, n, len(f.args))
		}
		return nil
	}
	lambda := func(a *ast) (node, static, error) {
		c.this = append(c.this, in)
		defer func() { c.this = c.this[:len(c.this)-1] }()
		return c.compile(a, in, true)
	}
	switch f.name {
	case "where", "select", "all":
		if err := nargs(1); err != nil {
			return nil, nil, err
		}
		crit, st, err := lambda(f.args[0])
		if err != nil {
			return nil, nil, err
		}
		switch f.name {
		case "where":
			return &whereNode{crit: crit}, in, nil
		case "select":
			return &selectNode{proj: crit}, st, nil
		}
		return &allNode{crit: crit}, nil, nil
	case "exists":
		if len(f.args) > 1 {
			return nil, nil, nargs(1)
		}
		n := &existsNode{}
		if len(f.args) == 1 {
			crit, _, err := lambda(f.args[0])
			if err != nil {
				return nil, nil, err
			}
			n.crit = crit
		}
		return n, nil, nil
	case "empty", "not", "count", "hasValue", "first", "last", "tail", "single", "resolve":
		if err := nargs(0); err != nil {
			return nil, nil, err
		}
		switch f.name {
		case "first", "last", "tail", "single":
			return simpleFunc(f.name), in, nil
		}
		return simpleFunc(f.name), nil, nil
	case "skip", "take":
		if err := nargs(1); err != nil {
			return nil, nil, err
		}
		n, err := c.intLiteral(f.args[0])
		if err != nil {
			return nil, nil, err
		}
		return &skipTakeNode{take: f.name == "take", n: n}, in, nil
	case "as", "is", "ofType":
		ts, err := c.typeArg(f)
		if err != nil {
			return nil, nil, err
		}
		switch f.name {
		case "is":
			return &isNode{t: ts, op: "is()"}, nil, nil
		case "as":
			return &asNode{t: ts}, c.typeStatic(ts), nil
		}
		return &ofTypeNode{t: ts}, c.typeStatic(ts), nil
	case "extension":
		if err := nargs(1); err != nil {
			return nil, nil, err
		}
		if f.args[0].kind != aString {
			return nil, nil, c.errf(f.args[0].pos, "extension() takes a string literal")
		}
		var st static
		if t := c.m.types["Extension"]; t != nil {
			st = static{t}
		}
		return &extensionNode{url: f.args[0].name}, st, nil
	}
	return nil, nil, c.errf(f.pos, "function %s() is not supported", f.name)
}

func (c *compiler) binary(a *ast, in static) (node, static, error) {
	switch a.name {
	case "|", "=", "!=", "and", "or", "xor", "implies":
	default:
		return nil, nil, c.errf(a.pos, "operator %q is not supported", a.name)
	}
	// Both operands are whole expressions on the same focus.
	l, lst, err := c.compile(a.left, in, true)
	if err != nil {
		return nil, nil, err
	}
	r, rst, err := c.compile(a.right, in, true)
	if err != nil {
		return nil, nil, err
	}
	switch a.name {
	case "|":
		var st static
		if lst != nil && rst != nil {
			st = append(st, lst...)
			for _, t := range rst {
				st = st.add(t)
			}
		}
		return &unionNode{l: l, r: r}, st, nil
	case "=", "!=":
		return &equalNode{l: l, r: r, not: a.name == "!="}, nil, nil
	}
	return &logicNode{op: a.name, l: l, r: r}, nil, nil
}
