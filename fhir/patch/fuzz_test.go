package patch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/telefhir/telefhir/fhir/patch"
)

func FuzzApply(f *testing.F) {
	seeds := []struct{ doc, patch string }{
		{`{"foo":"bar"}`, `[{"op":"add","path":"/baz","value":"qux"}]`},
		{`{"foo":["all","grass","cows","eat"]}`, `[{"op":"move","from":"/foo/1","path":"/foo/3"}]`},
		{`{"/":9,"~1":10}`, `[{"op":"test","path":"/~01","value":10}]`},
		{`{"a":{"b":[1,2.50,{"c":null}]}}`, `[{"op":"copy","from":"/a/b","path":"/a/b/2/d"},{"op":"remove","path":"/a/b/0"}]`},
		{`[1,[2,[3]]]`, `[{"op":"replace","path":"/1/1/0","value":{"x":"\u00e9"}},{"op":"add","path":"/-","value":[]}]`},
		{`{"a":1,"a":2}`, `[{"op":"test","path":"","value":{"a":2}}]`},
		{`{"v":1.5e3}`, `[{"op":"test","path":"/v","value":1500.0}]`},
		{`"x"`, `[{"op":"move","from":"","path":""}]`},
		{`{}`, `{}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s.doc), []byte(s.patch))
	}
	f.Fuzz(func(t *testing.T, doc, p []byte) {
		out, err := patch.Apply(doc, p)
		if err != nil {
			var perr *patch.Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %T %v is not a *patch.Error", err, err)
			}
			if out != nil {
				t.Fatalf("Apply returned output with error %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Apply(%q, %q) = %q, not valid JSON", doc, p, out)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, out); err != nil || !bytes.Equal(compact.Bytes(), out) {
			t.Fatalf("output %q is not compact JSON", out)
		}
		// The result equals itself under "test", whatever its layout.
		var indented bytes.Buffer
		if err := json.Indent(&indented, out, "", " "); err != nil {
			t.Fatalf("Indent: %v", err)
		}
		self := append(append([]byte(`[{"op":"test","path":"","value":`), indented.Bytes()...), "}]"...)
		if _, err := patch.Apply(out, self); err != nil {
			t.Fatalf("result %q does not test equal to itself: %v", out, err)
		}
	})
}
