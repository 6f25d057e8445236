package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/internal/synth"
)

// TestReindexCommand loads a synthetic data set and rebuilds its index with
// `telefhir reindex`, whole and for one type, and checks the flags.
func TestReindexCommand(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := runSynth(context.Background(), []string{"--data", dir, "--patients", "3", "--observations-per-patient", "10", "--seed", "4"}, &out); err != nil {
		t.Fatalf("synth: %v\n%s", err, out.String())
	}
	g, err := synth.New(synth.Options{Seed: 4, Patients: 3, ObservationsPerPatient: 10})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runReindex(context.Background(), []string{"--data", dir, "--batch", "7"}, &out); err != nil {
		t.Fatalf("reindex: %v\n%s", err, out.String())
	}
	total := g.Counts().Total()
	if want := fmt.Sprintf("%d scanned, %d reindexed, 0 skipped (updated meanwhile), 0 failed", total, total); !strings.Contains(out.String(), want) {
		t.Errorf("reindex output lacks %q:\n%s", want, out.String())
	}
	out.Reset()
	if err := runReindex(context.Background(), []string{"--data", dir, "--type", "Patient"}, &out); err != nil {
		t.Fatalf("reindex --type Patient: %v\n%s", err, out.String())
	}
	if want := "Patient in the embedded"; !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "3 scanned, 3 reindexed") {
		t.Errorf("reindex --type Patient output:\n%s", out.String())
	}
	for _, args := range [][]string{
		{"--data", dir, "--type", "Patients"},
		{"--data", dir, "--batch", "0"},
		{"--data", dir, "--writers", "0"},
		{"--data", dir, "extra"},
	} {
		if err := runReindex(context.Background(), args, &out); err == nil {
			t.Errorf("reindex %v succeeded", args)
		}
	}
}
