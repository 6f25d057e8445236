package fhirpatch

import (
	"errors"
	"fmt"

	"github.com/telefhir/telefhir/fhir/fhirpath"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/patch"
)

// Apply applies the patch to doc, the JSON of a resource, and returns the
// patched resource as compact JSON; doc is not modified. The result is not
// validated: run it through resource.Parse before storing it.
//
// Errors are *outcome.Error values. An operation that does not fit the
// resource (a path that selects nothing or several elements, an index out
// of range, a value of the wrong type for the element, …) is a 422
// located at the operation, Parameters.parameter[i], or at the part at
// fault, and says which operation and why. Messages quote the patch, never
// the resource.
func (p *Patch) Apply(doc []byte) ([]byte, error) {
	root, err := fhirpath.Decode(doc)
	if err != nil {
		return nil, outcome.Wrap(outcome.KindInternal, err, "the resource to patch is not valid JSON")
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, outcome.New(outcome.KindInternal, "the resource to patch is not a JSON object")
	}
	t := &tree{root: obj}
	for _, op := range p.ops {
		if err := op.apply(t); err != nil {
			return nil, err
		}
	}
	out, err := patch.ApplyOps(doc, t.ops)
	if err != nil {
		if errors.Is(err, patch.ErrTooLarge) {
			return nil, outcome.Wrap(outcome.KindTooLarge, err, "the patched resource would be larger than %d bytes", patch.MaxResultSize)
		}
		// The edits were made on the same JSON: they always apply.
		return nil, outcome.Wrap(outcome.KindInternal, err, "the patch could not be applied")
	}
	return out, nil
}

// fail is a 422 about op, located at where (the operation when empty).
func (op *operation) fail(where, format string, args ...any) error {
	if where == "" {
		where = op.where
	}
	return outcome.At(outcome.KindUnprocessable, where, "%s %s: %s", op.kind, op.path, fmt.Sprintf(format, args...))
}

func (op *operation) apply(t *tree) error {
	switch op.kind {
	case "add":
		return op.add(t)
	case "insert":
		return op.insert(t)
	case "delete":
		return op.delete(t)
	case "replace":
		return op.replace(t)
	case "move":
		return op.move(t)
	}
	return fmt.Errorf("fhirpatch: unknown operation type %q", op.kind) // Parse checked it
}

// target evaluates e and returns the one element it selects, with its
// location. none is the complaint when it selects nothing; empty means
// that nothing is fine (target then returns ok false).
func (op *operation) target(t *tree, e *fhirpath.Expr, none string) (v fhirpath.Value, loc steps, ok bool, err error) {
	vals, err := e.EvaluateLocated(t.root)
	if err != nil {
		return v, nil, false, op.fail("", "the path could not be evaluated: %v", err)
	}
	switch {
	case len(vals) == 0 && none == "":
		return v, nil, false, nil
	case len(vals) == 0:
		return v, nil, false, op.fail("", "%s matches nothing; %s", e, none)
	case len(vals) > 1:
		return v, nil, false, op.fail("", "%s matches %d elements; %s needs exactly one", e, len(vals), an(op.kind))
	}
	v = vals[0]
	loc, located := v.Location()
	if !located {
		return v, nil, false, op.fail("", "%s is not an element of the resource being patched (a computed value, or a resource outside it)", e)
	}
	return v, loc, true, nil
}

// protected names the resource's own elements a patch may not change: the
// server maintains its id and meta.
func protected(name string) bool {
	return name == "id" || name == "_id" || name == "meta"
}

// checkLocation refuses an element at loc that a patch may not change.
func (op *operation) checkLocation(loc steps) error {
	switch {
	case len(loc) == 0:
		return op.fail("", "the path selects the resource itself; patch its elements instead")
	case protected(loc[0].Name):
		return op.fail("", "the resource's %s is maintained by the server and cannot be patched", loc[0].Name)
	}
	return nil
}

// container returns where the children of v, located at loc, are: v
// itself, or for a primitive its "_name" object.
func container(v fhirpath.Value, loc steps) steps {
	if t, ok := v.ModelType(); !ok || !t.Primitive() || len(loc) == 0 {
		return loc
	}
	last := loc[len(loc)-1]
	out := append(steps(nil), loc[:len(loc)-1]...)
	return append(out, fhirpath.Step{Name: "_" + last.Name, Index: last.Index})
}

func (op *operation) add(t *tree) error {
	v, loc, _, err := op.target(t, op.path, "there is nothing to add to")
	if err != nil {
		return err
	}
	typ, ok := v.ModelType()
	if !ok {
		return op.fail("", "the type of %s is not known, so nothing can be added to it", op.path)
	}
	elem, ok := typ.Element(op.name)
	if !ok {
		return op.fail(op.nameAt, "%s (%s) has no element %s", op.path, article(typ.Name()), quote(op.name))
	}
	if len(loc) == 0 && protected(elem.Name()) {
		return op.fail("", "the resource's %s is maintained by the server and cannot be patched", elem.Name())
	}
	if len(loc) > 0 && protected(loc[0].Name) {
		return op.fail("", "the resource's %s is maintained by the server and cannot be patched", loc[0].Name)
	}
	it, name, err := op.build(op.value, elem, op.name, op.path.String()+"."+elem.Name())
	if err != nil {
		return err
	}
	at := container(v, loc)
	if elem.Repeats() {
		t.ensureObject(at)
		t.insertItem(at, name, t.listLen(at, name), it)
		return nil
	}
	if obj := t.object(at); obj != nil {
		for _, n := range jsonNames(elem) {
			if _, taken := obj[n]; taken {
				return op.fail("", "%s already has %s; use replace to change it", op.path, n)
			}
			if _, taken := obj["_"+n]; taken {
				return op.fail("", "%s already has %s; use replace to change it", op.path, n)
			}
		}
	}
	t.ensureObject(at)
	t.setSingle(at, name, it)
	return nil
}

// jsonNames are the JSON property names element e may have.
func jsonNames(e fhirpath.Element) []string {
	if !e.Choice() {
		return []string{e.Name()}
	}
	var out []string
	for _, c := range e.Choices() {
		out = append(out, c.Name)
	}
	return out
}

// list finds the list of insert and move: the element op.list of the one
// element op.parent selects. It returns where the list is, its definition
// and its length.
func (op *operation) listOf(t *tree) (at steps, elem fhirpath.Element, n int, err error) {
	v, loc, _, err := op.target(t, op.parent, "so there is no "+op.list+" list")
	if err != nil {
		return nil, elem, 0, err
	}
	typ, ok := v.ModelType()
	if !ok {
		return nil, elem, 0, op.fail("", "the type of %s is not known", op.parent)
	}
	elem, ok = typ.Element(op.list)
	switch {
	case !ok:
		return nil, elem, 0, op.fail("", "%s (%s) has no element %s", op.parent, article(typ.Name()), quote(op.list))
	case !elem.Repeats():
		return nil, elem, 0, op.fail("", "%s is not a list (it has at most one item); use add, replace or delete", op.path)
	case len(loc) == 0 && protected(elem.Name()), len(loc) > 0 && protected(loc[0].Name):
		return nil, elem, 0, op.fail("", "the resource's id and meta are maintained by the server and cannot be patched")
	}
	at = container(v, loc)
	return at, elem, t.listLen(at, elem.Name()), nil
}

func (op *operation) insert(t *tree) error {
	at, elem, n, err := op.listOf(t)
	if err != nil {
		return err
	}
	if op.index > n {
		return op.fail(op.indexAt, "index %d is out of range: the list has %s, so the index can be 0 to %d", op.index, plural(n, "item"), n)
	}
	it, name, err := op.build(op.value, elem, elem.Name(), op.path.String())
	if err != nil {
		return err
	}
	t.ensureObject(at)
	t.insertItem(at, name, op.index, it)
	return nil
}

func (op *operation) move(t *tree) error {
	at, elem, n, err := op.listOf(t)
	if err != nil {
		return err
	}
	for _, ix := range []struct {
		name  string
		index int
		where string
	}{{"source", op.source, op.sourceAt}, {"destination", op.destination, op.destAt}} {
		if ix.index >= n {
			if n == 0 {
				return op.fail(ix.where, "%s %d is out of range: the list is empty", ix.name, ix.index)
			}
			return op.fail(ix.where, "%s %d is out of range: the list has %s, so it can be 0 to %d", ix.name, ix.index, plural(n, "item"), n-1)
		}
	}
	t.moveItem(at, elem.Name(), op.source, op.destination)
	return nil
}

func (op *operation) delete(t *tree) error {
	_, loc, found, err := op.target(t, op.path, "")
	if err != nil || !found {
		return err
	}
	if err := op.checkLocation(loc); err != nil {
		return err
	}
	last, parent := loc[len(loc)-1], loc[:len(loc)-1]
	if last.Index >= 0 {
		t.removeItem(parent, last.Name, last.Index)
	} else {
		t.removeSingle(parent, last.Name)
	}
	t.prune(parent)
	return nil
}

func (op *operation) replace(t *tree) error {
	v, loc, _, err := op.target(t, op.path, "there is nothing to replace")
	if err != nil {
		return err
	}
	if err := op.checkLocation(loc); err != nil {
		return err
	}
	elem, ok := v.Element()
	if !ok {
		return op.fail("", "the type of %s is not known, so it cannot be replaced", op.path)
	}
	it, name, err := op.build(op.value, elem, elem.Name(), op.path.String())
	if err != nil {
		return err
	}
	last, parent := loc[len(loc)-1], loc[:len(loc)-1]
	if last.Index >= 0 {
		t.replaceItem(parent, last.Name, last.Index, it)
		return nil
	}
	if name != last.Name {
		// A choice element changing type: valueQuantity → valueString.
		t.removeSingle(parent, last.Name)
	}
	t.setSingle(parent, name, it)
	return nil
}

// plural formats "1 item", "3 items".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
