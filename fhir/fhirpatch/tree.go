package fhirpatch

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/telefhir/telefhir/fhir/fhirpath"
	"github.com/telefhir/telefhir/fhir/patch"
)

// tree is the resource being patched, twice: as generic JSON, which the
// FHIRPath of the next operation is evaluated on, and as the JSON Patch
// operations that turn the stored bytes into the result. Every edit goes
// to both, so they always agree.
type tree struct {
	root map[string]any
	ops  []patch.Op
}

// steps locate an object from the root: each step goes into a member and,
// when the member holds an array, to one of its elements.
type steps = []fhirpath.Step

// item is an element's value as JSON: raw is the value (nil for none) and
// ext a primitive's "_name" object with its id and extensions (nil for
// none).
type item struct {
	raw, ext []byte
}

var jsonNull = []byte("null")

// object returns the object at s; nil when there is none.
func (t *tree) object(s steps) map[string]any {
	obj := t.root
	for _, st := range s {
		v := obj[st.Name]
		if st.Index >= 0 {
			list, _ := v.([]any)
			if st.Index >= len(list) {
				return nil
			}
			v = list[st.Index]
		}
		obj, _ = v.(map[string]any)
		if obj == nil {
			return nil
		}
	}
	return obj
}

// pointer is the JSON Pointer of member name of the object at s, and of
// its element index when index >= 0.
func pointer(s steps, name string, index int) string {
	var b strings.Builder
	tok := func(t string) {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	for _, st := range s {
		tok(st.Name)
		if st.Index >= 0 {
			tok(strconv.Itoa(st.Index))
		}
	}
	tok(name)
	if index >= 0 {
		tok(strconv.Itoa(index))
	}
	return b.String()
}

// decode decodes raw (valid JSON) for the generic view, numbers as
// json.Number as fhirpath.Decode does.
func decode(raw []byte) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v) // raw is valid JSON: it came through resource.Parse or was built here
	return v
}

// The edits. Each records one JSON Patch operation and makes the same
// change to the generic view. The object at s must exist.

func (t *tree) setMember(s steps, name string, raw []byte) {
	t.ops = append(t.ops, patch.Op{Op: "add", Path: pointer(s, name, -1), Value: raw})
	t.object(s)[name] = decode(raw)
}

func (t *tree) removeMember(s steps, name string) {
	t.ops = append(t.ops, patch.Op{Op: "remove", Path: pointer(s, name, -1)})
	delete(t.object(s), name)
}

func (t *tree) insertElem(s steps, name string, i int, raw []byte) {
	t.ops = append(t.ops, patch.Op{Op: "add", Path: pointer(s, name, i), Value: raw})
	obj := t.object(s)
	list, _ := obj[name].([]any)
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = decode(raw)
	obj[name] = list
}

func (t *tree) replaceElem(s steps, name string, i int, raw []byte) {
	t.ops = append(t.ops, patch.Op{Op: "replace", Path: pointer(s, name, i), Value: raw})
	t.object(s)[name].([]any)[i] = decode(raw)
}

func (t *tree) removeElem(s steps, name string, i int) {
	t.ops = append(t.ops, patch.Op{Op: "remove", Path: pointer(s, name, i)})
	obj := t.object(s)
	list := obj[name].([]any)
	obj[name] = append(list[:i:i], list[i+1:]...)
}

func (t *tree) moveElem(s steps, name string, from, to int) {
	t.ops = append(t.ops, patch.Op{Op: "move", From: pointer(s, name, from), Path: pointer(s, name, to)})
	obj := t.object(s)
	list := obj[name].([]any)
	v := list[from]
	list = append(list[:from:from], list[from+1:]...)
	list = append(list, nil)
	copy(list[to+1:], list[to:])
	list[to] = v
	obj[name] = list
}

// FHIR elements on top of the edits: a primitive element name keeps its
// id and extensions in "_name", and a repeating primitive's two arrays
// stay the same length, null where an item has no value or no extensions.

// has reports whether the object at s has member name.
func (t *tree) has(s steps, name string) bool {
	_, ok := t.object(s)[name]
	return ok
}

// arrays returns the arrays of list element name of the object at s.
func (t *tree) arrays(s steps, name string) (vals, exts []any, hasVals, hasExts bool) {
	obj := t.object(s)
	vals, hasVals = obj[name].([]any)
	exts, hasExts = obj["_"+name].([]any)
	return vals, exts, hasVals, hasExts
}

// listLen is the number of items of list element name.
func (t *tree) listLen(s steps, name string) int {
	vals, exts, _, _ := t.arrays(s, name)
	return max(len(vals), len(exts))
}

// setSingle sets the single element name to it, value and extensions.
func (t *tree) setSingle(s steps, name string, it item) {
	for _, m := range []struct {
		name string
		raw  []byte
	}{{name, it.raw}, {"_" + name, it.ext}} {
		switch {
		case m.raw != nil:
			t.setMember(s, m.name, m.raw)
		case t.has(s, m.name):
			t.removeMember(s, m.name)
		}
	}
}

// removeSingle removes the single element name, value and extensions.
func (t *tree) removeSingle(s steps, name string) {
	for _, n := range []string{name, "_" + name} {
		if t.has(s, n) {
			t.removeMember(s, n)
		}
	}
}

// withItem is a JSON array of n nulls with raw at index i.
func withItem(n, i int, raw []byte) []byte {
	b := []byte{'['}
	for j := 0; j < n; j++ {
		if j > 0 {
			b = append(b, ',')
		}
		if j == i {
			b = append(b, raw...)
		} else {
			b = append(b, jsonNull...)
		}
	}
	return append(b, ']')
}

// orNull is raw, or null for nil.
func orNull(raw []byte) []byte {
	if raw == nil {
		return jsonNull
	}
	return raw
}

// insertItem inserts it at index i of list element name.
func (t *tree) insertItem(s steps, name string, i int, it item) { t.putItem(s, name, i, it, true) }

// replaceItem makes item i of list element name it.
func (t *tree) replaceItem(s steps, name string, i int, it item) { t.putItem(s, name, i, it, false) }

// putItem inserts it at index i of list element name, or replaces item i.
func (t *tree) putItem(s steps, name string, i int, it item, insert bool) {
	n := t.listLen(s, name)
	if insert {
		n++
	}
	_, _, hasVals, hasExts := t.arrays(s, name)
	for _, a := range []struct {
		name string
		raw  []byte
		has  bool
	}{{name, it.raw, hasVals}, {"_" + name, it.ext, hasExts}} {
		switch {
		case a.has && insert:
			t.insertElem(s, a.name, i, orNull(a.raw))
		case a.has:
			t.replaceElem(s, a.name, i, orNull(a.raw))
		case a.raw != nil:
			t.setMember(s, a.name, withItem(n, i, a.raw))
		}
	}
	t.tidyList(s, name)
}

// removeItem removes item i of list element name.
func (t *tree) removeItem(s steps, name string, i int) {
	vals, exts, hasVals, hasExts := t.arrays(s, name)
	if hasVals && i < len(vals) {
		t.removeElem(s, name, i)
	}
	if hasExts && i < len(exts) {
		t.removeElem(s, "_"+name, i)
	}
	t.tidyList(s, name)
}

// moveItem moves item from of list element name to index to.
func (t *tree) moveItem(s steps, name string, from, to int) {
	if from == to {
		return
	}
	_, _, hasVals, hasExts := t.arrays(s, name)
	if hasVals {
		t.moveElem(s, name, from, to)
	}
	if hasExts {
		t.moveElem(s, "_"+name, from, to)
	}
}

// tidyList drops the arrays of list element name that hold nothing: an
// empty one, or an extensions array of nulls only.
func (t *tree) tidyList(s steps, name string) {
	vals, exts, hasVals, hasExts := t.arrays(s, name)
	if hasVals && len(vals) == 0 {
		t.removeMember(s, name)
	}
	if hasExts && allNull(exts) {
		t.removeMember(s, "_"+name)
	}
}

func allNull(list []any) bool {
	for _, x := range list {
		if x != nil {
			return false
		}
	}
	return true
}

// prune removes the object at s if it is now empty, and so on up: FHIR
// JSON has no empty elements. A resource is never empty (it has its
// resourceType), so pruning stops at one.
func (t *tree) prune(s steps) {
	for len(s) > 0 {
		obj := t.object(s)
		if obj == nil || len(obj) > 0 {
			return
		}
		last, parent := s[len(s)-1], s[:len(s)-1]
		switch {
		case last.Index < 0:
			t.removeMember(parent, last.Name)
		case strings.HasPrefix(last.Name, "_"):
			// The id and extensions of item Index of a primitive list:
			// null them, or drop the item if it has no value either.
			base := last.Name[1:]
			vals, _, _, _ := t.arrays(parent, base)
			if last.Index < len(vals) && vals[last.Index] != nil {
				t.replaceElem(parent, last.Name, last.Index, jsonNull)
				t.tidyList(parent, base)
			} else {
				t.removeItem(parent, base, last.Index)
			}
		default:
			t.removeItem(parent, last.Name, last.Index)
		}
		s = parent
	}
}

// ensureObject creates the "_name" object at s, the id and extensions of a
// primitive that has none yet, so that an element can be added to it.
func (t *tree) ensureObject(s steps) {
	if t.object(s) != nil {
		return
	}
	last, parent := s[len(s)-1], s[:len(s)-1]
	if last.Index < 0 {
		t.setMember(parent, last.Name, []byte("{}"))
		return
	}
	base := last.Name[1:]
	if _, _, _, hasExts := t.arrays(parent, base); hasExts {
		t.replaceElem(parent, last.Name, last.Index, []byte("{}"))
		return
	}
	t.setMember(parent, last.Name, withItem(t.listLen(parent, base), last.Index, []byte("{}")))
}
