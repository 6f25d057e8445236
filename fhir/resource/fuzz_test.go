package resource

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir/outcome"
)

// fuzzSeeds are small resources that reach the interesting paths: nulls,
// primitive extensions, inline resources, choice types, escapes.
var fuzzSeeds = []string{
	`{"resourceType":"Patient","id":"a","meta":{"versionId":"1","profile":["http://p"]},"name":[{"given":["a",null],"_given":[null,` + ext + `]}]}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50},"subject":{"reference":"Patient/1"}}`,
	`{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient"},"part":[{"name":"q","resource":{"resourceType":"Bundle","type":"collection"}}]}]}`,
	`{"resourceType":"Bundle","type":"batch-response","entry":[{"resource":{"resourceType":"Patient","contained":[{"resourceType":"Organization"}]},"response":{"status":"200","outcome":{"resourceType":"OperationOutcome","issue":[]}}}]}`,
	`{"resourceType":"Patient","_birthDate":` + ext + `,"\u0069d":"x","Name":[],"gender":null}`,
	`{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"group","item":[{"linkId":"2","type":"string"}]}]}`,
	`[{"resourceType":"Patient"}]`,
	`{"resourceType":"Patient","extension":[{"url":"u","valueDecimal":1e400}]}`,
}

func addSeeds(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join(subsetDir, "*.json"))
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err == nil && len(body) < 4096 {
			f.Add(body)
		}
	}
}

func FuzzParse(f *testing.F) {
	addSeeds(f)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Parse(body, "")
		if err != nil {
			var oe *outcome.Error
			if !errors.As(err, &oe) || (oe.Kind != outcome.KindInvalid && oe.Kind != outcome.KindStructure) || len(oe.Issues) == 0 {
				t.Fatalf("Parse error %v (%T) is not an invalid/structure outcome", err, err)
			}
			if !json.Valid(body) && oe.Kind != outcome.KindStructure {
				t.Fatalf("Parse of invalid JSON: kind %v, want structure: %v", oe.Kind, err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("Parse accepted invalid JSON")
		}
		if !IsType(p.Type) {
			t.Fatalf("Parse returned type %q", p.Type)
		}
		// What Parse accepts, Stamp can stamp, and the result still parses.
		out, err := Stamp(body, "fuzz-1", 7, at)
		if err != nil {
			t.Fatalf("Stamp of a parsed resource: %v", err)
		}
		if _, err := Parse(out, p.Type); err != nil {
			t.Fatalf("stamped resource does not parse: %v\n%s", err, out)
		}
	})
}

func FuzzStamp(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		at := time.UnixMilli(1_700_000_000_123).UTC()
		out, err := Stamp(body, "x-1.2", 9, at)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Stamp output is not valid JSON: %s", out)
		}
		if vid, lu := Meta(out); vid != "9" || lu != "2023-11-14T22:13:20.123Z" {
			t.Fatalf("Meta(Stamp) = %q, %q", vid, lu)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(out, &top); err != nil {
			t.Fatalf("Stamp output is not an object: %v", err)
		}
		if string(top["id"]) != `"x-1.2"` {
			t.Fatalf("id = %s", top["id"])
		}
		// Apart from id and meta's version members, nothing changed.
		a, b := withoutID(t, body), withoutID(t, out)
		if d, err := DiffIgnoringMeta(a, b); err != nil || d != "" {
			t.Fatalf("Stamp changed the resource (-in +out):\n%s%v", d, err)
		}
		// Stamp compacts: nothing but whitespace between tokens goes.
		var want bytes.Buffer
		if err := json.Compact(&want, out); err != nil || !bytes.Equal(want.Bytes(), out) {
			t.Fatalf("Stamp output is not compact: %s", out)
		}
	})
}

func withoutID(t *testing.T, b []byte) []byte {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("Stamp accepted %q: %v", b, err)
	}
	delete(m, "id")
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
