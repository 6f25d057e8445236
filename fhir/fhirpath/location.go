package fhirpath

// Locations: where in the evaluated resource's JSON each item of a result
// sits, for callers that change the resource (FHIRPath Patch).

// Step is one step from a JSON object towards a value inside it: into the
// member Name and, when that member holds an array, to its element Index.
type Step struct {
	Name string
	// Index is the position in the member's array, or -1 when the member
	// holds a single value.
	Index int
}

// location is a Step with the way back to the root. The root itself is a
// location with no parent and no name.
type location struct {
	parent *location
	name   string
	index  int
	elem   *field // the element the step leads to; nil when unknown
}

// child is the location of member name (element index, -1 for none) of the
// object at l; nil when l is nil, so that evaluation without locations
// allocates nothing.
func (l *location) child(name string, index int, elem *field) *location {
	if l == nil {
		return nil
	}
	return &location{parent: l, name: name, index: index, elem: elem}
}

// childBase is the location of the object that holds v's children: v
// itself, or for a primitive its "_name" sibling, where its id and
// extensions are.
func (v *Value) childBase() *location {
	if v.loc == nil || v.ti == nil || !v.ti.primitive {
		return v.loc
	}
	l := *v.loc
	l.name = "_" + l.name
	return &l
}

// EvaluateLocated is Evaluate, except that every item of the result that is
// an element of the resource (or a resource inside it) knows where it is:
// see Value.Location and Value.Element. It costs an allocation per item
// visited, which Evaluate does not.
func (e *Expr) EvaluateLocated(resource any) ([]Value, error) {
	return e.evaluate(resource, &location{})
}

// Location returns the steps from the evaluated resource to v: none for the
// resource itself, [{name 0} {given 1}] for Patient.name[0].given[1]. A
// primitive is located at its value's property ("given"); its id and
// extensions are at the same step with the name prefixed by "_". ok is
// false unless v comes from EvaluateLocated and is an element of the
// resource: values the expression computes, and resources resolve() made
// up from references, have no location.
func (v Value) Location() (steps []Step, ok bool) {
	if v.loc == nil {
		return nil, false
	}
	n := 0
	for l := v.loc; l.parent != nil; l = l.parent {
		n++
	}
	steps = make([]Step, n)
	for l := v.loc; l.parent != nil; l = l.parent {
		n--
		steps[n] = Step{Name: l.name, Index: l.index}
	}
	return steps, true
}

// Element returns the definition of the element v is an item of
// (Patient.name for an item of Patient.name). ok is false when v has no
// location (see Location), is a whole resource evaluated at the root, or
// lies outside the R4 model.
func (v Value) Element() (Element, bool) {
	if v.loc == nil || v.loc.elem == nil {
		return Element{}, false
	}
	return Element{f: v.loc.elem}, true
}

// ModelType returns the R4 type of v (its resource type for a resource);
// ok is false for values the expression computed and for JSON outside the
// model.
func (v Value) ModelType() (Type, bool) {
	if v.ti == nil {
		return Type{}, false
	}
	return Type{t: v.ti}, true
}

// SplitLast splits an expression that ends in an element name, such as
// Patient.name[0].given, into one for the element's parent
// (Patient.name[0]) and the name (given). ok is false for any other
// expression (Patient.name[0], Patient.name.first(), …). A lone name
// (given) has the evaluated resource as its parent.
func (e *Expr) SplitLast() (parent *Expr, name string, ok bool) {
	switch n := e.root.(type) {
	case *childNode:
		return &Expr{src: "%resource", root: rootNode{}}, n.name, true
	case *pathNode:
		c, isChild := n.right.(*childNode)
		if !isChild {
			return nil, "", false
		}
		src := e.src
		if i := lastDot(src); i > 0 {
			src = src[:i]
		}
		return &Expr{src: src, root: n.left}, c.name, true
	}
	return nil, "", false
}

// lastDot returns the offset of the last '.' of src outside quotes and
// brackets, or -1; it is only used to name the parent expression.
func lastDot(src string) int {
	last, depth := -1, 0
	var quote byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == '.' && depth == 0:
			last = i
		}
	}
	return last
}
