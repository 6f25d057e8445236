package rest_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/conformance"
	"github.com/telefhir/telefhir/fhir/rest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestMetadataGolden pins the CapabilityStatement generated from the
// route table. Run with -update after changing the routes.
func TestMetadataGolden(t *testing.T) {
	e := newEnv(t, rest.Config{BaseURL: "http://fhir.example", Software: conformance.Software{Name: "telefhir", Version: "test"}})
	r := e.must(200, "GET", "/metadata?_pretty=true", nil)
	golden := filepath.Join("testdata", "capability.json")
	if *update {
		if err := os.WriteFile(golden, r.body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestMetadataGolden -update)", err)
	}
	if !bytes.Equal(r.body, want) {
		t.Fatalf("CapabilityStatement differs from %s; rerun with -update if the change is intended", golden)
	}

	var cs struct {
		ResourceType string `json:"resourceType"`
		FHIRVersion  string `json:"fhirVersion"`
		Rest         []struct {
			Resource []struct {
				Type        string `json:"type"`
				Interaction []struct {
					Code string `json:"code"`
				} `json:"interaction"`
			} `json:"resource"`
			Interaction []struct {
				Code string `json:"code"`
			} `json:"interaction"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(r.body, &cs); err != nil {
		t.Fatal(err)
	}
	if cs.ResourceType != "CapabilityStatement" || cs.FHIRVersion != "4.0.1" {
		t.Fatalf("not an R4 CapabilityStatement: %s %s", cs.ResourceType, cs.FHIRVersion)
	}
	if n := len(cs.Rest[0].Resource); n != 146 {
		t.Errorf("%d resource types, want all 146 concrete R4 types", n)
	}
	codes := map[string]bool{}
	for _, i := range cs.Rest[0].Resource[0].Interaction {
		codes[i.Code] = true
	}
	for _, c := range []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"} {
		if !codes[c] {
			t.Errorf("interaction %s missing", c)
		}
	}
	var sys []string
	for _, i := range cs.Rest[0].Interaction {
		sys = append(sys, i.Code)
	}
	if strings.Join(sys, ",") != "history-system,search-system,transaction,batch" {
		t.Errorf("system interactions %v", sys)
	}
}
