// Command genelements writes conformance/elements.json: for every R4
// resource type, its top-level elements that are in the summary
// (ElementDefinition.isSummary) and those that are mandatory (min > 0),
// read from the official StructureDefinitions in the hl7.fhir.r4.examples
// package. Run from the conformance directory:
//
//	go run ./internal/genelements $(../scripts/fetch-r4-examples.sh)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/telefhir/telefhir/fhir/resource"
)

type elements struct {
	Summary  []string `json:"summary"`
	Required []string `json:"required"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genelements EXAMPLES_DIR")
		os.Exit(2)
	}
	out := map[string]elements{}
	for _, typ := range resource.Types() {
		b, err := os.ReadFile(filepath.Join(os.Args[1], "StructureDefinition-"+typ+".json"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var sd struct {
			Snapshot struct {
				Element []struct {
					Path      string `json:"path"`
					IsSummary bool   `json:"isSummary"`
					Min       int    `json:"min"`
				} `json:"element"`
			} `json:"snapshot"`
		}
		if err := json.Unmarshal(b, &sd); err != nil {
			fmt.Fprintln(os.Stderr, typ, err)
			os.Exit(1)
		}
		var e elements
		for _, el := range sd.Snapshot.Element {
			name, ok := strings.CutPrefix(el.Path, typ+".")
			if !ok || strings.Contains(name, ".") {
				continue
			}
			if el.IsSummary {
				e.Summary = append(e.Summary, name)
			}
			if el.Min > 0 {
				e.Required = append(e.Required, name)
			}
		}
		out[typ] = e
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile("elements.json", append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
