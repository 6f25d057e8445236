package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/internal/synth"
)

// TestSynthLoadsEmbeddedStore runs `telefhir synth` end to end into the
// embedded store and finds the generated data with searches through the
// store: one patient's heart rates, and every Observation.
func TestSynthLoadsEmbeddedStore(t *testing.T) {
	dir := t.TempDir()
	const patients, perPatient = 6, 25
	args := []string{"--data", dir, "--patients", "6", "--observations-per-patient", "25", "--seed", "9", "--batch", "40", "--writers", "3"}
	var out bytes.Buffer
	if err := runSynth(context.Background(), args, &out); err != nil {
		t.Fatalf("synth: %v\n%s", err, out.String())
	}
	g, err := synth.New(synth.Options{Seed: 9, Patients: patients, ObservationsPerPatient: perPatient})
	if err != nil {
		t.Fatal(err)
	}
	if total := g.Counts().Total(); !strings.Contains(out.String(), fmt.Sprintf("loaded %d resources", total)) {
		t.Fatalf("summary does not report the %d resources:\n%s", g.Counts().Total(), out.String())
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "telefhir.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		t.Fatal(err)
	}

	// The generator says which of patient 2's readings are heart rates.
	rs := g.Patient(2)
	pid := rs[0].ID
	want := map[string]bool{}
	for _, r := range rs {
		if r.Type == "Observation" && bytes.Contains(r.Body, []byte(`"code":"8867-4"`)) {
			want[r.ID] = true
		}
	}
	if len(want) == 0 {
		t.Fatal("patient 2 has no heart rate readings; pick another seed")
	}
	q, _, err := reg.Parse("Observation", url.Values{
		"subject": {"Patient/" + pid}, "code": {"http://loinc.org|8867-4"}, "_count": {"100"},
	}, search.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := st.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Matches) != len(want) {
		t.Fatalf("search found %d heart rates of Patient/%s, the generator made %d", len(page.Matches), pid, len(want))
	}
	for _, m := range page.Matches {
		if !want[m.ID] {
			t.Errorf("search found Observation/%s, not a heart rate of that patient", m.ID)
		}
		if m.VersionID != 1 {
			t.Errorf("Observation/%s is version %d", m.ID, m.VersionID)
		}
		if v, _ := resource.Meta(m.Body); v != "1" {
			t.Errorf("Observation/%s: meta.versionId %q", m.ID, v)
		}
	}

	q, _, err = reg.Parse("Observation", url.Values{"_count": {"0"}, "_total": {"accurate"}}, search.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if page, err = st.Search(ctx, q); err != nil || page.Total != patients*perPatient {
		t.Fatalf("Observation total %d (%v), want %d", page.Total, err, patients*perPatient)
	}

	// Loading the same data set again is refused before anything is written.
	out.Reset()
	err = runSynth(ctx, args, &out)
	if err == nil || !strings.Contains(err.Error(), "already holds this data set") {
		t.Fatalf("second load: %v", err)
	}
}

// TestSynthWritesNDJSON: --out writes one file per type, one resource a
// line, in the generator's order.
func TestSynthWritesNDJSON(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := runSynth(context.Background(), []string{"--out", dir, "--patients", "3", "--observations-per-patient", "12", "--seed", "5"}, &out); err != nil {
		t.Fatal(err)
	}
	g, _ := synth.New(synth.Options{Seed: 5, Patients: 3, ObservationsPerPatient: 12})
	want := map[string][]string{}
	add := func(rs []synth.Resource) {
		for _, r := range rs {
			want[r.Type] = append(want[r.Type], string(r.Body))
		}
	}
	add(g.Shared())
	for i := range 3 {
		add(g.Patient(i))
	}
	for typ, lines := range want {
		f, err := os.Open(filepath.Join(dir, typ+".ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r struct{ ResourceType string }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.ResourceType != typ {
				t.Fatalf("%s.ndjson: line %q", typ, sc.Text())
			}
			got = append(got, sc.Text())
		}
		f.Close()
		if strings.Join(got, "\n") != strings.Join(lines, "\n") {
			t.Errorf("%s.ndjson: %d lines, not the generator's %d", typ, len(got), len(lines))
		}
	}
}

func TestSynthConfig(t *testing.T) {
	sc, err := loadSynthConfig([]string{"--patients", "10", "--database-url", "postgres://u@db/x"}, env(map[string]string{"TELEFHIR_BASE_URL": "https://fhir.example.org/r4"}))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Patients != 10 || sc.ObsPerPatient != 100 || sc.Seed != 1 || sc.DatabaseURL != "postgres://u@db/x" || sc.BaseURL != "https://fhir.example.org/r4" {
		t.Fatalf("got %+v %+v", sc, sc.config)
	}
	_, err = loadSynthConfig([]string{"--patients", "0", "--batch", "0", "--database-url", "mysql://x", "--out", "d"}, env(nil))
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"--patients", "--batch", "--database-url must be", "give one of them"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}
