package rest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/rest"
)

// exampleFiles lists the official R4 examples to round-trip: all of the
// npm package hl7.fhir.r4.examples@4.0.1 when TELEFHIR_R4_EXAMPLES names its
// unpacked directory (make test-examples), else the committed subset.
func exampleFiles(t *testing.T) []string {
	t.Helper()
	dir := os.Getenv("TELEFHIR_R4_EXAMPLES")
	if dir == "" {
		dir = filepath.Join("..", "resource", "testdata", "r4examples")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s (%v)", dir, err)
	}
	return files
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9.-]`)

// TestR4ExamplesRoundTrip PUTs every official example and reads it back:
// what comes back must be JSON-equal to what went in apart from meta. An
// example the server refuses must be one the resource model itself
// rejects as invalid R4 (fhir/resource lists and checks those).
func TestR4ExamplesRoundTrip(t *testing.T) {
	e := newEnv(t, rest.Config{MaxBodyBytes: 64 << 20})
	var stored, refused int
	for _, f := range exampleFiles(t) {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if json.Unmarshal(body, &head) != nil || !resource.IsType(head.ResourceType) {
			continue // package metadata, not a resource
		}
		name := filepath.Base(f)
		id := head.ID
		if id == "" {
			// A few examples have no id; give them one so PUT can carry it.
			id = unsafeID.ReplaceAllString(strings.TrimSuffix(name, ".json"), "-")
			if len(id) > 64 {
				id = id[len(id)-64:]
			}
			body = withID(t, body, id)
		}
		path := "/" + head.ResourceType + "/" + id
		r := e.do("PUT", path, body)
		switch r.StatusCode {
		case 200, 201:
		case 400:
			if _, err := resource.Parse(body, head.ResourceType); err == nil {
				t.Errorf("%s: PUT refused a resource the model accepts: %s", name, r.body)
			}
			refused++
			continue
		default:
			t.Errorf("%s: PUT %s: %d %s", name, path, r.StatusCode, r.body)
			continue
		}
		got := e.must(200, "GET", path, nil)
		if diff, err := resource.DiffIgnoringMeta(body, got.body); err != nil || diff != "" {
			t.Errorf("%s: read back differs (%v): %s", name, err, diff)
		}
		stored++
	}
	t.Logf("%d examples stored and read back equal, %d refused as invalid R4", stored, refused)
	if stored == 0 {
		t.Fatal("no example was stored")
	}
}

func withID(t *testing.T, body []byte, id string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["id"], _ = json.Marshal(id)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
