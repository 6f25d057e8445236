package resource

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// mapRewriter replaces the links that m maps, and records every offer.
type mapRewriter struct {
	m      map[string]string
	offers []string
}

func (r *mapRewriter) rewrite(kind LinkKind, link string) (string, bool) {
	r.offers = append(r.offers, [...]string{"ref", "uri", "narrative"}[kind]+":"+link)
	v, ok := r.m[link]
	return v, ok
}

func TestRewriteLinks(t *testing.T) {
	m := map[string]string{
		"urn:uuid:p":               "Patient/123",
		"urn:uuid:e":               "Encounter/e9",
		"urn:oid:1.2.3":            "Binary/b1",
		"http://example.org/x":     "Device/d1",
		"urn:uuid:with\"quote":     `Quoted/"x"`,
		"Patient?identifier=a|b":   "Patient/conditional",
		"urn:uuid:narrative&amp;x": "never offered in escaped form",
		"urn:uuid:narrative&x":     "Patient/n&1",
	}
	for _, tc := range []struct {
		name, in, want string
		offers         []string // nil: not checked
	}{
		{
			name: "subject reference",
			in:   `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:p","display":"urn:uuid:p"}}`,
			want: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123","display":"urn:uuid:p"}}`,
		},
		{
			name: "whitespace and numbers kept",
			in:   "{ \"resourceType\" : \"Observation\",\n \"valueQuantity\": {\"value\": 1.50},\n \"subject\" : { \"reference\" : \"urn:uuid:p\" } }",
			want: "{ \"resourceType\" : \"Observation\",\n \"valueQuantity\": {\"value\": 1.50},\n \"subject\" : { \"reference\" : \"Patient/123\" } }",
		},
		{
			name: "extensions, nested and on primitives",
			in: `{"resourceType":"Patient","extension":[{"url":"http://x","valueReference":{"reference":"urn:uuid:e"}},` +
				`{"url":"http://y","extension":[{"url":"z","valueUri":"urn:oid:1.2.3"},{"url":"c","valueCanonical":"urn:oid:1.2.3"}]}],` +
				`"name":[{"given":["A"],"_given":[{"extension":[{"url":"u","valueReference":{"reference":"urn:uuid:p"}}]}]}]}`,
			want: `{"resourceType":"Patient","extension":[{"url":"http://x","valueReference":{"reference":"Encounter/e9"}},` +
				`{"url":"http://y","extension":[{"url":"z","valueUri":"Binary/b1"},{"url":"c","valueCanonical":"urn:oid:1.2.3"}]}],` +
				`"name":[{"given":["A"],"_given":[{"extension":[{"url":"u","valueReference":{"reference":"Patient/123"}}]}]}]}`,
		},
		{
			name: "attachment url, not identifier value",
			in:   `{"resourceType":"DocumentReference","status":"current","identifier":[{"system":"urn:ietf:rfc:3986","value":"urn:oid:1.2.3"}],"content":[{"attachment":{"url":"urn:oid:1.2.3"}}]}`,
			want: `{"resourceType":"DocumentReference","status":"current","identifier":[{"system":"urn:ietf:rfc:3986","value":"urn:oid:1.2.3"}],"content":[{"attachment":{"url":"Binary/b1"}}]}`,
		},
		{
			name: "contained resources",
			in:   `{"resourceType":"Claim","contained":[{"resourceType":"ServiceRequest","id":"r","subject":{"reference":"urn:uuid:p"}}],"patient":{"reference":"urn:uuid:p"},"referral":{"reference":"#r"}}`,
			want: `{"resourceType":"Claim","contained":[{"resourceType":"ServiceRequest","id":"r","subject":{"reference":"Patient/123"}}],"patient":{"reference":"Patient/123"},"referral":{"reference":"#r"}}`,
		},
		{
			name: "resourceType after the members",
			in:   `{"contained":[{"subject":{"reference":"urn:uuid:p"},"resourceType":"Observation"}],"resourceType":"Patient"}`,
			want: `{"contained":[{"subject":{"reference":"Patient/123"},"resourceType":"Observation"}],"resourceType":"Patient"}`,
		},
		{
			name: "narrative links",
			in:   `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"urn:uuid:p\">p</a><img src='urn:uuid:narrative&amp;x'/><a data-href=\"urn:uuid:p\">no</a> href=urn:uuid:p</div>"}}`,
			want: `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"Patient/123\">p</a><img src='Patient/n&amp;1'/><a data-href=\"urn:uuid:p\">no</a> href=urn:uuid:p</div>"}}`,
		},
		{
			name: "escaped input and output",
			in:   `{"resourceType":"Observation","subject":{"reference":"urn:uuid:with\"quote"},"focus":[{"reference":"urn:uuid:\u0070"}]}`,
			want: `{"resourceType":"Observation","subject":{"reference":"Quoted/\"x\""},"focus":[{"reference":"Patient/123"}]}`,
		},
		{
			name: "conditional reference",
			in:   `{"resourceType":"Encounter","status":"planned","class":{"code":"VR"},"subject":{"reference":"Patient?identifier=a|b"}}`,
			want: `{"resourceType":"Encounter","status":"planned","class":{"code":"VR"},"subject":{"reference":"Patient/conditional"}}`,
		},
		{
			name: "Bundle entries",
			in:   `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:p","resource":{"resourceType":"Observation","subject":{"reference":"urn:uuid:p"}}}]}`,
			want: `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"Patient/123","resource":{"resourceType":"Observation","subject":{"reference":"Patient/123"}}}]}`,
		},
		{
			name:   "what is offered",
			in:     `{"resourceType":"Observation","meta":{"profile":["http://p"]},"code":{"coding":[{"system":"http://loinc.org","code":"1"}]},"subject":{"reference":"Patient/1","type":"Patient"},"valueString":"urn:uuid:p"}`,
			want:   `{"resourceType":"Observation","meta":{"profile":["http://p"]},"code":{"coding":[{"system":"http://loinc.org","code":"1"}]},"subject":{"reference":"Patient/1","type":"Patient"},"valueString":"urn:uuid:p"}`,
			offers: []string{"uri:http://loinc.org", "ref:Patient/1", "uri:Patient"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &mapRewriter{m: m}
			got, err := RewriteLinks([]byte(tc.in), r.rewrite)
			if err != nil {
				t.Fatalf("RewriteLinks: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("RewriteLinks:\n got %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("result is not valid JSON: %s", got)
			}
			if tc.offers != nil && !slices.Equal(r.offers, tc.offers) {
				t.Errorf("offered %q, want %q", r.offers, tc.offers)
			}
		})
	}
}

func TestRewriteLinksUnchangedIsSameSlice(t *testing.T) {
	in := []byte(`{"resourceType":"Observation","subject":{"reference":"Patient/1"}}`)
	got, err := RewriteLinks(in, func(LinkKind, string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &in[0] {
		t.Errorf("RewriteLinks copied a resource it did not change")
	}
}

func TestRewriteLinksErrors(t *testing.T) {
	keep := func(LinkKind, string) (string, bool) { return "", false }
	for _, in := range []string{
		``, `[]`, `"x"`, `{}`, `{"id":"1"}`, `{"resourceType":"Nope"}`, `{"resourceType":1}`,
		`{"resourceType":"Patient",}`, `{"resourceType":"Patient"`, `{"resourceType":"Patient"} x`,
		`{"resourceType":"Patient","active":tru}`, `{"resourceType":"Patient","x":01x}`,
		`{"resourceType":"Patient","name":[{"family":"a` + "\x01" + `"}]}`,
		`{"resourceType":"Patient","name":"` + "\xff" + `"}`,
		`{"resourceType":"Patient","x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
	} {
		if _, err := RewriteLinks([]byte(in), keep); err == nil {
			t.Errorf("RewriteLinks(%q) succeeded, want an error", in)
		}
	}
}

// TestExamplesRewriteLinks runs RewriteLinks over the R4 examples (all of
// them under make test-examples): with nothing to replace it returns them
// unchanged, and replacing every reference yields valid JSON with every
// reference offered replaced.
func TestExamplesRewriteLinks(t *testing.T) {
	files, _ := exampleFiles(t)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := RewriteLinks(b, func(LinkKind, string) (string, bool) { return "", false })
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s: changed with nothing to replace", f)
		}
		n := 0
		got, err = RewriteLinks(b, func(k LinkKind, s string) (string, bool) {
			if k != LinkReference || strings.HasPrefix(s, "#") {
				return "", false
			}
			n++
			return "Replaced/1", true
		})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !json.Valid(got) {
			t.Errorf("%s: result is not valid JSON", f)
		}
		if c := bytes.Count(got, []byte(`"Replaced/1"`)); c != n {
			t.Errorf("%s: %d references offered, %d replaced", f, n, c)
		}
	}
}

func FuzzRewriteLinks(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Observation","subject":{"reference":"urn:uuid:p"},"text":{"div":"<div><a href=\"x\">x</a></div>"}}`))
	f.Add([]byte(`{"resourceType":"Claim","contained":[{"resourceType":"Patient","extension":[{"url":"u","valueUri":"x"}]}]}`))
	f.Add([]byte(`{"resourceType":"Patient","name":[{"_given":[null,{"extension":[]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keep := func(LinkKind, string) (string, bool) { return "", false }
		got, err := RewriteLinks(b, keep)
		if err != nil {
			return
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("changed with nothing to replace: %q → %q", b, got)
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		all := func(LinkKind, string) (string, bool) { return "X/\"1\"\n<&>", true }
		got, err = RewriteLinks(b, all)
		if err != nil {
			t.Fatalf("failed on the second pass: %v", err)
		}
		if !json.Valid(got) {
			t.Fatalf("replacing links made invalid JSON: %q → %q", b, got)
		}
	})
}
