package fhirpath

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Evaluate evaluates the expression against resource, a FHIR resource
// decoded as generic JSON (see Decode): map[string]any with a
// "resourceType", arrays as []any, numbers as json.Number (float64 works
// too, less exactly). The result shares memory with resource.
//
// Evaluation fails only where FHIRPath says an operation needs a single
// item and gets several (is, =, and, …), or an item of the wrong kind.
func (e *Expr) Evaluate(resource any) ([]Value, error) {
	return e.evaluate(resource, nil)
}

// evaluate evaluates e with the resource at location root (nil: do not
// track locations).
func (e *Expr) evaluate(resource any, root *location) ([]Value, error) {
	c := &evalCtx{}
	c.rootArr[0] = rootValue(resource, root)
	c.this = c.rootArr[0]
	out, err := e.root.eval(c, c.rootArr[:])
	if err != nil {
		return nil, fmt.Errorf("fhirpath: %s: %w", e.src, err)
	}
	return out, nil
}

// rootValue wraps a resource (the evaluated one or one inside it) found at
// loc.
func rootValue(resource any, loc *location) Value {
	v := Value{Node: resource, loc: loc, resLoc: loc}
	if m, ok := resource.(map[string]any); ok {
		v.res = m
		if rt, ok := m["resourceType"].(string); ok {
			v.Type = rt
			v.ti = r4().resourceType(rt)
		}
	}
	return v
}

type evalCtx struct {
	rootArr [1]Value
	this    Value
}

// node is a compiled expression: it maps the focus collection to a result.
// Nodes never modify or append to the focus slice they are given.
type node interface {
	eval(c *evalCtx, focus []Value) ([]Value, error)
}

type constNode struct{ vals []Value }

func (n *constNode) eval(*evalCtx, []Value) ([]Value, error) { return n.vals, nil }

type rootNode struct{}

func (rootNode) eval(c *evalCtx, _ []Value) ([]Value, error) { return c.rootArr[:], nil }

type thisNode struct{}

func (thisNode) eval(c *evalCtx, _ []Value) ([]Value, error) { return []Value{c.this}, nil }

type pathNode struct{ left, right node }

func (n *pathNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	l, err := n.left.eval(c, focus)
	if err != nil {
		return nil, err
	}
	return n.right.eval(c, l)
}

// typeFilterNode is a type name at the start of a path (Observation.code):
// it keeps the focus items of that type.
type typeFilterNode struct{ name string }

func (n *typeFilterNode) eval(_ *evalCtx, focus []Value) ([]Value, error) {
	m := r4()
	all := true
	for _, v := range focus {
		if !m.isA(v.Type, n.name) {
			all = false
			break
		}
	}
	if all {
		return focus, nil
	}
	var out []Value
	for _, v := range focus {
		if m.isA(v.Type, n.name) {
			out = append(out, v)
		}
	}
	return out, nil
}

type childNode struct {
	name    string
	extName string // "_" + name
}

func (n *childNode) eval(_ *evalCtx, focus []Value) ([]Value, error) {
	var out []Value
	for i := range focus {
		out = n.appendChildren(out, &focus[i])
	}
	return out, nil
}

func (n *childNode) appendChildren(out []Value, v *Value) []Value {
	base := v.childBase()
	if v.ti == nil {
		// Outside the model: plain JSON navigation.
		obj, ok := v.Node.(map[string]any)
		if !ok {
			return out
		}
		return appendProperty(out, obj, n.name, n.extName, nil, v, base, nil)
	}
	f := v.ti.fields[n.name]
	if f == nil {
		return out
	}
	obj := v.ext // a primitive's id and extension
	if !v.ti.primitive {
		obj, _ = v.Node.(map[string]any)
	}
	if obj == nil {
		return out
	}
	switch {
	case f.choices != nil:
		for i := range f.choices {
			ch := &f.choices[i]
			out = appendProperty(out, obj, ch.name, ch.extName, ch.typ, v, base, f)
		}
		return out
	case f.resource:
		switch x := obj[f.name].(type) {
		case map[string]any:
			out = append(out, rootValue(x, base.child(f.name, -1, f)))
		case []any:
			for i, y := range x {
				if r, ok := y.(map[string]any); ok {
					out = append(out, rootValue(r, base.child(f.name, i, f)))
				}
			}
		}
		return out
	}
	return appendProperty(out, obj, f.name, f.extName, f.typ, v, base, f)
}

// appendProperty appends the items of JSON property name of obj, typed t
// (nil: unknown), with a primitive's "_name" sibling alongside. owner is
// the item obj belongs to, base the location of obj and elem the element
// the property is (nil: unknown).
func appendProperty(out []Value, obj map[string]any, name, extName string, t *typeInfo, owner *Value, base *location, elem *field) []Value {
	val, hasVal := obj[name]
	var ext any
	hasExt := false
	if t == nil || t.primitive {
		ext, hasExt = obj[extName]
	}
	if !hasVal && !hasExt {
		return out
	}
	typeName := ""
	if t != nil {
		typeName = t.name
	}
	vals, isList := val.([]any)
	exts, extList := ext.([]any)
	if !isList && !extList {
		e, _ := ext.(map[string]any)
		if val == nil && e == nil {
			return out
		}
		return append(out, Value{Node: val, Type: typeName, ti: t, ext: e, res: owner.res, resLoc: owner.resLoc, loc: base.child(name, -1, elem)})
	}
	n := max(len(vals), len(exts))
	for i := range n {
		var item any
		var e map[string]any
		if i < len(vals) {
			item = vals[i]
		}
		if i < len(exts) {
			e, _ = exts[i].(map[string]any)
		}
		if item == nil && e == nil {
			continue
		}
		out = append(out, Value{Node: item, Type: typeName, ti: t, ext: e, res: owner.res, resLoc: owner.resLoc, loc: base.child(name, i, elem)})
	}
	return out
}

type indexNode struct {
	left  node
	index int
}

func (n *indexNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	l, err := n.left.eval(c, focus)
	if err != nil {
		return nil, err
	}
	if n.index < 0 || n.index >= len(l) {
		return nil, nil
	}
	return l[n.index : n.index+1 : n.index+1], nil
}

type unionNode struct{ l, r node }

func (n *unionNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	l, err := n.l.eval(c, focus)
	if err != nil {
		return nil, err
	}
	r, err := n.r.eval(c, focus)
	if err != nil {
		return nil, err
	}
	return union(l, r), nil
}

// union concatenates l and r without duplicates (FHIRPath equality, as
// sameValue decides). Long collections (ValueSet.expansion.contains.code |
// …) find duplicate strings through maps rather than by comparing each item
// with every other.
func union(l, r []Value) []Value {
	n := len(l) + len(r)
	out := make([]Value, 0, n)
	if n <= 32 {
		for _, s := range [2][]Value{l, r} {
		short:
			for _, v := range s {
				for _, w := range out {
					if sameValue(v, w) {
						continue short
					}
				}
				out = append(out, v)
			}
		}
		return out
	}
	texts := make(map[string]bool, n) // every string so far
	plain := make(map[string]bool, n) // strings that are not dates
	// others buckets the indexes in out of dates and non-strings by a key
	// that equal items always share, so each item is compared only with
	// the few that might equal it (never every other item).
	others := make(map[string][]int)
	for _, s := range [2][]Value{l, r} {
	long:
		for _, v := range s {
			str, isStr := v.Node.(string)
			date := isStr && isDateType(v.Type)
			switch {
			case isStr && !date:
				// A plain string equals any string of the same text.
				if texts[str] {
					continue
				}
				plain[str] = true
			case date && plain[str]:
				continue
			}
			if !isStr || date {
				key := bucketKey(v)
				for _, i := range others[key] {
					if sameValue(v, out[i]) {
						continue long
					}
				}
				others[key] = append(others[key], len(out))
			}
			if isStr {
				texts[str] = true
			}
			out = append(out, v)
		}
	}
	return out
}

// bucketKey is a key that two items sameValue considers equal always
// share: a canonical text of the value, numbers by exact value and dates
// by the instant they start at.
func bucketKey(v Value) string {
	var b strings.Builder
	if v.Node == nil {
		b.WriteString("nil:")
		canonical(&b, v.ext)
		return b.String()
	}
	if s, ok := v.Node.(string); ok && isDateType(v.Type) {
		if t, _, ok := parseDate(s); ok {
			return "date:" + t.UTC().Format(time.RFC3339Nano)
		}
		return "date:" + s
	}
	canonical(&b, v.Node)
	return b.String()
}

// canonical writes a generic JSON value with sorted keys and numbers in
// exact lowest terms, so values deepEqual calls equal write the same text.
func canonical(b *strings.Builder, x any) {
	switch y := x.(type) {
	case map[string]any:
		keys := make([]string, 0, len(y))
		for k := range y {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for _, k := range keys {
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			canonical(b, y[k])
			b.WriteByte(',')
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for _, e := range y {
			canonical(b, e)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	case string:
		b.WriteString(strconv.Quote(y))
	case bool:
		b.WriteString(strconv.FormatBool(y))
	case nil:
		b.WriteString("null")
	default:
		if r, ok := ratOf(y); ok {
			b.WriteString("#" + r.RatString())
		} else {
			b.WriteString("?")
		}
	}
}

// ---- functions

// criterion evaluates crit with item as focus and $this, and reports
// whether it is true.
func criterion(c *evalCtx, crit node, item Value, fn string) (bool, error) {
	saved := c.this
	c.this = item
	r, err := crit.eval(c, []Value{item})
	c.this = saved
	if err != nil {
		return false, err
	}
	b, ok, err := singletonBool(r, fn)
	return ok && b, err
}

type whereNode struct{ crit node }

func (n *whereNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	var out []Value
	for _, v := range focus {
		ok, err := criterion(c, n.crit, v, "where()")
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

type selectNode struct{ proj node }

func (n *selectNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	var out []Value
	saved := c.this
	defer func() { c.this = saved }()
	for _, v := range focus {
		c.this = v
		r, err := n.proj.eval(c, []Value{v})
		if err != nil {
			return nil, err
		}
		out = append(out, r...)
	}
	return out, nil
}

type allNode struct{ crit node }

func (n *allNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	for _, v := range focus {
		ok, err := criterion(c, n.crit, v, "all()")
		if err != nil {
			return nil, err
		}
		if !ok {
			return []Value{boolValue(false)}, nil
		}
	}
	return []Value{boolValue(true)}, nil
}

type existsNode struct{ crit node }

func (n *existsNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	if n.crit == nil {
		return []Value{boolValue(len(focus) > 0)}, nil
	}
	for _, v := range focus {
		ok, err := criterion(c, n.crit, v, "exists()")
		if err != nil {
			return nil, err
		}
		if ok {
			return []Value{boolValue(true)}, nil
		}
	}
	return []Value{boolValue(false)}, nil
}

// simpleFunc is a function without arguments.
type simpleFunc string

func (n simpleFunc) eval(c *evalCtx, focus []Value) ([]Value, error) {
	switch n {
	case "empty":
		return []Value{boolValue(len(focus) == 0)}, nil
	case "not":
		b, ok, err := singletonBool(focus, "not()")
		if err != nil || !ok {
			return nil, err
		}
		return []Value{boolValue(!b)}, nil
	case "count":
		return []Value{{Node: jsonInt(len(focus)), Type: sysInteger}}, nil
	case "hasValue":
		if len(focus) != 1 {
			return []Value{boolValue(false)}, nil
		}
		_, ok := focus[0].primitiveOf()
		return []Value{boolValue(ok)}, nil
	case "first":
		if len(focus) == 0 {
			return nil, nil
		}
		return focus[:1:1], nil
	case "last":
		if len(focus) == 0 {
			return nil, nil
		}
		return focus[len(focus)-1:], nil
	case "tail":
		if len(focus) < 2 {
			return nil, nil
		}
		return focus[1:], nil
	case "single":
		if len(focus) > 1 {
			return nil, fmt.Errorf("single(): %d items", len(focus))
		}
		return focus, nil
	case "resolve":
		var out []Value
		for _, v := range focus {
			if r, ok := resolve(v); ok {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("internal error: function %s", string(n))
}

type skipTakeNode struct {
	take bool
	n    int
}

func (n *skipTakeNode) eval(_ *evalCtx, focus []Value) ([]Value, error) {
	k := min(max(n.n, 0), len(focus))
	if n.take {
		return focus[:k:k], nil
	}
	return focus[k:], nil
}

type extensionNode struct{ url string }

func (n *extensionNode) eval(_ *evalCtx, focus []Value) ([]Value, error) {
	ext := r4().types["Extension"]
	var out []Value
	for _, v := range focus {
		obj := v.ext
		if v.ti == nil || !v.ti.primitive {
			obj, _ = v.Node.(map[string]any)
		}
		list, _ := obj["extension"].([]any)
		var elem *field
		if v.ti != nil {
			elem = v.ti.fields["extension"]
		}
		for i, x := range list {
			e, ok := x.(map[string]any)
			if ok && e["url"] == n.url {
				out = append(out, Value{Node: e, Type: ext.name, ti: ext, res: v.res, resLoc: v.resLoc, loc: v.childBase().child("extension", i, elem)})
			}
		}
	}
	return out, nil
}

// ---- types

// isType reports whether v is of type t or a subtype (FHIRPath "is").
func isType(v Value, t typeSpec) bool {
	if v.Type == "" {
		return false
	}
	ns, name := "FHIR", v.Type
	if len(name) > 7 && name[:7] == "System." {
		ns, name = "System", name[7:]
	}
	if t.ns != "" && t.ns != ns {
		return false
	}
	if ns == "FHIR" {
		return r4().isA(name, t.name)
	}
	return name == t.name
}

type isNode struct {
	x  node // nil for the is() function, which applies to its focus
	t  typeSpec
	op string
}

func (n *isNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	in := focus
	if n.x != nil {
		var err error
		if in, err = n.x.eval(c, focus); err != nil {
			return nil, err
		}
	}
	switch len(in) {
	case 0:
		return nil, nil
	case 1:
		return []Value{boolValue(isType(in[0], n.t))}, nil
	}
	return nil, fmt.Errorf("%s needs a single item, got %d", n.op, len(in))
}

// resolveIsNode is "resolve() is T" evaluated on its focus.
type resolveIsNode struct{ t typeSpec }

func (n *resolveIsNode) eval(_ *evalCtx, focus []Value) ([]Value, error) {
	var typ string
	found := 0
	for _, v := range focus {
		if t, ok := resolvedType(v); ok {
			typ = t
			found++
		}
	}
	switch found {
	case 0:
		return nil, nil
	case 1:
		return []Value{boolValue(isType(Value{Type: typ}, n.t))}, nil
	}
	return nil, fmt.Errorf("is needs a single item, got %d", found)
}

// asNode is the "as" operator and the as() function. FHIRPath requires a
// single item; like other FHIR servers' search indexers, this one accepts a
// collection and keeps the items of the type, as ofType() does, because
// R4 search expressions such as (Observation.component.value as Quantity)
// apply it to repeating elements.
type asNode struct {
	x node // nil for the as() function
	t typeSpec
}

func (n *asNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	in := focus
	if n.x != nil {
		var err error
		if in, err = n.x.eval(c, focus); err != nil {
			return nil, err
		}
	}
	return ofType(in, n.t), nil
}

type ofTypeNode struct{ t typeSpec }

func (n *ofTypeNode) eval(_ *evalCtx, focus []Value) ([]Value, error) {
	return ofType(focus, n.t), nil
}

func ofType(in []Value, t typeSpec) []Value {
	all := true
	for _, v := range in {
		if !isType(v, t) {
			all = false
			break
		}
	}
	if all {
		return in
	}
	var out []Value
	for _, v := range in {
		if isType(v, t) {
			out = append(out, v)
		}
	}
	return out
}

// ---- operators

// singletonBool converts a collection to a boolean the FHIRPath way: empty
// is no value (ok false), one boolean is itself, any other single item is
// true, and more than one item is an error.
func singletonBool(in []Value, what string) (b, ok bool, err error) {
	switch len(in) {
	case 0:
		return false, false, nil
	case 1:
		if x, isBool := in[0].Node.(bool); isBool {
			return x, true, nil
		}
		return true, true, nil
	}
	return false, false, fmt.Errorf("%s needs a single boolean, got %d items", what, len(in))
}

type equalNode struct {
	l, r node
	not  bool
}

func (n *equalNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	l, err := n.l.eval(c, focus)
	if err != nil {
		return nil, err
	}
	r, err := n.r.eval(c, focus)
	if err != nil {
		return nil, err
	}
	if len(l) == 0 || len(r) == 0 {
		return nil, nil
	}
	eq := len(l) == len(r)
	for i := 0; eq && i < len(l); i++ {
		e, known := equal(l[i], r[i])
		if !known {
			return nil, nil
		}
		eq = e
	}
	return []Value{boolValue(eq != n.not)}, nil
}

type logicNode struct {
	op   string
	l, r node
}

func (n *logicNode) eval(c *evalCtx, focus []Value) ([]Value, error) {
	lv, err := n.l.eval(c, focus)
	if err != nil {
		return nil, err
	}
	l, lok, err := singletonBool(lv, n.op)
	if err != nil {
		return nil, err
	}
	// Short cuts that do not need the right operand.
	switch {
	case n.op == "and" && lok && !l:
		return []Value{boolValue(false)}, nil
	case n.op == "or" && lok && l:
		return []Value{boolValue(true)}, nil
	case n.op == "implies" && lok && !l:
		return []Value{boolValue(true)}, nil
	}
	rv, err := n.r.eval(c, focus)
	if err != nil {
		return nil, err
	}
	r, rok, err := singletonBool(rv, n.op)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "and":
		switch {
		case rok && !r:
			return []Value{boolValue(false)}, nil
		case lok && rok:
			return []Value{boolValue(true)}, nil
		}
	case "or":
		switch {
		case rok && r:
			return []Value{boolValue(true)}, nil
		case lok && rok:
			return []Value{boolValue(false)}, nil
		}
	case "xor":
		if lok && rok {
			return []Value{boolValue(l != r)}, nil
		}
	case "implies":
		switch {
		case rok && r:
			return []Value{boolValue(true)}, nil
		case lok && rok: // l is true here
			return []Value{boolValue(false)}, nil
		}
	}
	return nil, nil
}
