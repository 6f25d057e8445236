package resource

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir/outcome"
)

// examplesEnv names the unpacked hl7.fhir.r4.examples@4.0.1 package
// directory (scripts/fetch-r4-examples.sh prints it). Without it the tests
// run over the committed subset in testdata/r4examples.
const examplesEnv = "TELEFHIR_R4_EXAMPLES"

const subsetDir = "testdata/r4examples"

// knownInvalid lists the official R4 examples that violate R4 themselves:
// file name → an issue Parse must report, and why the example is wrong.
// Each entry must really fail, with that issue. Gaps in the library are not
// reasons: Parse works around them.
var knownInvalid = map[string]struct{ expression, reason string }{
	"DeviceMetric-example.json": {"DeviceMetric.parent",
		"DeviceMetric.parent is Reference(Device); the example refers to a DeviceDefinition"},
	"DeviceUseStatement-example.json": {"DeviceUseStatement.reasonReference[0]",
		"DeviceUseStatement.reasonReference is Reference(Condition|Observation|DiagnosticReport|DocumentReference|Media); the example refers to a Procedure"},
	"MedicationRequest-medrx0301.json": {"MedicationRequest.dispenseRequest.performer",
		"MedicationRequest.dispenseRequest.performer is Reference(Organization); the example refers to a Practitioner"},
	"Observation-clinical-gender.json": {"Observation.performer[0]",
		"Observation.performer does not allow Reference(Encounter); the example refers to one"},
	"ImplementationGuide-fhir.json": {"ImplementationGuide.status",
		"ImplementationGuide.name and .status are 1..1; the core package's own IG has neither"},
	"ig-r4.json": {"ImplementationGuide.name",
		"the same ImplementationGuide as ImplementationGuide-fhir.json: no name, no status (both 1..1)"},
	"Questionnaire-qs1.json": {"Questionnaire.item[0].item[0].linkId",
		"Questionnaire.item.linkId is 1..1; 37 nested items have none"},
	"SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json": {"SearchParameter.id",
		"its id has 67 characters; R4 ids have at most 64"},
}

func init() {
	// The ten SearchParameters defined for extensions name no base
	// resource, and SearchParameter.base is 1..*.
	for _, res := range []string{"CodeSystem", "ValueSet"} {
		for _, p := range []string{"author", "effective", "end", "keyword", "workflow"} {
			name := "SearchParameter-" + strings.ToLower(res) + "-extensions-" + res + "-" + p + ".json"
			knownInvalid[name] = struct{ expression, reason string }{"SearchParameter.base",
				"SearchParameter.base is 1..*; this extension search parameter has no base"}
		}
	}
}

// exampleFiles returns the example resources to test: the whole package if
// examplesEnv is set, else the committed subset.
func exampleFiles(t *testing.T) (files []string, full bool) {
	t.Helper()
	dir := os.Getenv(examplesEnv)
	if dir == "" {
		dir = subsetDir
	} else {
		full = true
	}
	all, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		if base := filepath.Base(f); base != "package.json" && !strings.HasPrefix(base, ".") {
			files = append(files, f)
		}
	}
	if full && len(files) < 5000 {
		t.Fatalf("%s=%s holds %d example files; want the unpacked hl7.fhir.r4.examples@4.0.1 package (5306)", examplesEnv, dir, len(files))
	}
	if !full && len(files) < 100 {
		t.Fatalf("%s holds only %d files", subsetDir, len(files))
	}
	return files, full
}

func TestExamples(t *testing.T) {
	files, full := exampleFiles(t)
	if !full {
		t.Logf("%s not set: testing the %d examples in %s", examplesEnv, len(files), subsetDir)
	}
	passed, failed := 0, 0
	seen := map[string]bool{}
	start := time.Now()
	for _, f := range files {
		base := filepath.Base(f)
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Parse(body, "")
		known, isKnown := knownInvalid[base]
		switch {
		case err == nil && !isKnown:
			passed++
		case err == nil && isKnown:
			t.Errorf("%s: parsed, but it is listed as known invalid (%s)", base, known.reason)
		case !isKnown:
			failed++
			t.Errorf("%s: %v", base, describe(err))
		default:
			seen[base] = true
			if !hasIssueAt(err, known.expression) {
				t.Errorf("%s: failed, but not at %s as listed: %v", base, known.expression, describe(err))
			}
		}
	}
	t.Logf("%d examples passed, %d failed, %d known invalid, in %v", passed, failed, len(seen), time.Since(start).Round(time.Millisecond))
	if full {
		for name, known := range knownInvalid {
			if known.reason == "" || known.expression == "" {
				t.Errorf("knownInvalid[%s] has no reason or expression", name)
			}
			if !seen[name] {
				t.Errorf("knownInvalid[%s]: no such example file", name)
			}
		}
	}
}

// TestExamplesRoundTrip stamps every example and checks that the result is
// the same resource apart from meta.versionId/lastUpdated, that it still
// parses, and that id and meta read back.
func TestExamplesRoundTrip(t *testing.T) {
	files, _ := exampleFiles(t)
	at := time.Date(2026, 11, 26, 22, 35, 12, 123e6, time.UTC)
	n := 0
	for _, f := range files {
		base := filepath.Base(f)
		if _, bad := knownInvalid[base]; bad {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(body, "")
		if err != nil {
			t.Errorf("%s: %v", base, describe(err))
			continue
		}
		id := p.ID
		if id == "" {
			id = NewID()
		}
		out, err := Stamp(body, id, 42, at)
		if err != nil {
			t.Errorf("%s: Stamp: %v", base, err)
			continue
		}
		if diff, err := DiffIgnoringMeta(body, out); err != nil || diff != "" {
			t.Errorf("%s: stamped resource differs (-client +stamped):\n%s%v", base, diff, err)
		}
		if vid, lu := Meta(out); vid != "42" || lu != "2026-11-26T22:35:12.123Z" {
			t.Errorf("%s: Meta = %q, %q", base, vid, lu)
		}
		q, err := Parse(out, p.Type)
		if err != nil {
			t.Errorf("%s: stamped resource does not parse: %v", base, describe(err))
			continue
		}
		if q.ID != id {
			t.Errorf("%s: stamped id = %q, want %q", base, q.ID, id)
		}
		// Stamping again changes nothing but the version.
		again, err := Stamp(out, id, 42, at)
		if err != nil || string(again) != string(out) {
			t.Errorf("%s: Stamp is not idempotent: %v", base, err)
		}
		n++
	}
	t.Logf("%d examples round-tripped", n)
}

// The committed subset is what other packages' round-trip tests use: it
// must hold only valid examples, about one per resource type.
func TestExampleSubset(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(subsetDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	var size int64
	for _, f := range files {
		if _, bad := knownInvalid[filepath.Base(f)]; bad {
			t.Errorf("%s is known to be invalid", f)
		}
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
		body, _ := os.ReadFile(f)
		if p, err := Parse(body, ""); err == nil {
			types[p.Type] = true
		}
	}
	if len(types) < 130 || size > 3<<20 {
		t.Errorf("subset: %d types, %d bytes; want about one example per type, well under 3 MB", len(types), size)
	}
	if _, err := os.Stat(filepath.Join(subsetDir, "README.md")); err != nil {
		t.Errorf("subset has no README: %v", err)
	}
}

func hasIssueAt(err error, expression string) bool {
	for _, is := range outcome.From(err).Issues {
		if slices.Contains(is.Expression, expression) {
			return true
		}
	}
	return false
}

func describe(err error) string {
	oe := outcome.From(err)
	var parts []string
	for _, is := range oe.Issues {
		parts = append(parts, strings.Join(is.Expression, ",")+": "+is.Diagnostics)
	}
	return strings.Join(parts, "; ")
}
