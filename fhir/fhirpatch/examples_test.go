package fhirpatch_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/fhirpatch"
	"github.com/telefhir/telefhir/fhir/fhirpath"
)

// TestR4Examples patches every top-level element of the official R4
// examples in fhir/resource/testdata (one or more of every resource type):
//
//   - replace with its own value, given as value[x] of the element's type
//     (the element's choice type for a choice), must give back the same
//     bytes — wherever R4 Parameters can carry that type at all;
//   - delete of the element (each item of a list) must remove exactly it,
//     with its "_name" extensions.
func TestR4Examples(t *testing.T) {
	files, err := filepath.Glob("../resource/testdata/r4examples/*.json")
	if err != nil || len(files) < 100 {
		t.Fatalf("examples: %d files, %v", len(files), err)
	}
	replaced, deleted := 0, 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			t.Fatal(err)
		}
		doc := compact.Bytes()
		var res map[string]json.RawMessage
		if err := json.Unmarshal(doc, &res); err != nil {
			t.Fatal(err)
		}
		var typName string
		_ = json.Unmarshal(res["resourceType"], &typName)
		typ, ok := fhirpath.LookupType(typName)
		if !ok {
			t.Fatalf("%s: unknown type %s", f, typName)
		}
		names := make([]string, 0, len(res))
		for k := range res {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, name := range names {
			if name == "resourceType" || name == "id" || name == "meta" || strings.HasPrefix(name, "_") {
				continue
			}
			elem, ok := typ.Element(name)
			if !ok {
				t.Errorf("%s: %s has no element %s", f, typName, name)
				continue
			}
			path := typName + "." + name
			value := res[name]
			if !elem.Repeats() {
				if vt := valueType(elem, name); vt != "" && !elem.HoldsResource() {
					if replaceSelf(t, f, doc, path, "value"+vt, value) {
						replaced++
					}
				}
				deleteAndCheck(t, f, doc, del(path), func(m map[string]any) {
					delete(m, name)
					delete(m, "_"+name)
				})
				deleted++
				continue
			}
			var items []json.RawMessage
			_ = json.Unmarshal(value, &items)
			for i := range items {
				p := path + "[" + itoa(i) + "]"
				deleteAndCheck(t, f, doc, del(p), func(m map[string]any) { removeItem(m, name, i) })
				deleted++
			}
		}
	}
	t.Logf("%d elements replaced by themselves, %d deleted, in %d examples", replaced, deleted, len(files))
	if replaced < 300 || deleted < 1000 {
		t.Errorf("only %d replaced and %d deleted", replaced, deleted)
	}
}

// valueType is the type suffix of value[x] for element elem written as
// name: HumanName, String, DateTime; "" for a backbone element.
func valueType(elem fhirpath.Element, name string) string {
	var t fhirpath.Type
	if elem.Choice() {
		for _, c := range elem.Choices() {
			if c.Name == name {
				t = c.Type
			}
		}
	} else {
		t, _ = elem.Type()
	}
	if t.Anonymous() {
		return ""
	}
	n := t.Name()
	return strings.ToUpper(n[:1]) + n[1:]
}

// replaceSelf replaces path with its own value and checks nothing changes.
// It reports false when Parameters cannot carry the type (R4 allows only
// the open types in Parameters.parameter.value[x]).
func replaceSelf(t *testing.T, file string, doc []byte, path, key string, value json.RawMessage) bool {
	t.Helper()
	body := params(replace(path, `"`+key+`":`+string(value)))
	p, err := fhirpatch.Parse([]byte(body))
	if err != nil {
		if strings.Contains(err.Error(), "unknown field") {
			return false
		}
		t.Errorf("%s: replace %s with %s: Parse: %v", file, path, key, err)
		return false
	}
	got, err := p.Apply(doc)
	if err != nil {
		t.Errorf("%s: replace %s with %s: %v", file, path, key, err)
		return false
	}
	if !bytes.Equal(got, doc) && !hasExtensions(doc, path) {
		t.Errorf("%s: replacing %s by itself changed the resource:\n%s", file, path, got)
	}
	return true
}

// hasExtensions reports whether the top-level element of path has a
// "_name" sibling, which a replace by value[x] alone drops.
func hasExtensions(doc []byte, path string) bool {
	name := path[strings.IndexByte(path, '.')+1:]
	var m map[string]json.RawMessage
	_ = json.Unmarshal(doc, &m)
	_, ok := m["_"+name]
	return ok
}

// deleteAndCheck applies patch and compares the result with doc changed by
// want.
func deleteAndCheck(t *testing.T, file string, doc []byte, patch string, want func(map[string]any)) {
	t.Helper()
	p, err := fhirpatch.Parse([]byte(params(patch)))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	got, err := p.Apply(doc)
	if err != nil {
		t.Errorf("%s: %s: %v", file, patch, err)
		return
	}
	var exp, have map[string]any
	_ = json.Unmarshal(doc, &exp)
	want(exp)
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatalf("%s: result is not JSON: %v", file, err)
	}
	if diff := cmp.Diff(exp, have); diff != "" {
		t.Errorf("%s: %s (-want +got):\n%s", file, patch, diff)
	}
}

// removeItem removes item i of list name of m, with its extensions, and
// drops what is left empty.
func removeItem(m map[string]any, name string, i int) {
	for _, n := range []string{name, "_" + name} {
		list, ok := m[n].([]any)
		if !ok || i >= len(list) {
			continue
		}
		list = append(list[:i:i], list[i+1:]...)
		empty := true
		for _, x := range list {
			if x != nil {
				empty = false
			}
		}
		if empty && (n[0] == '_' || len(list) == 0) {
			delete(m, n)
		} else {
			m[n] = list
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
