package fhir_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
)

// recordingHook rewrites the Basic resources it sees and refuses those
// whose code text is "refuse"; it records the previous version it saw.
type recordingHook struct{ previous []int64 }

func (h *recordingHook) BeforeWrite(_ context.Context, w fhir.HookWrite) ([]byte, error) {
	var prev int64
	if w.Previous != nil {
		prev = w.Previous.VersionID
	}
	h.previous = append(h.previous, prev)
	if bytes.Contains(w.Body, []byte(`"refuse"`)) {
		return nil, outcome.Invalid("Basic.code.text", "refused by the hook")
	}
	return bytes.Replace(w.Body, []byte(`"draft"`), []byte(`"rewritten"`), 1), nil
}

func TestWriteHook(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := &recordingHook{}
	svc := &fhir.Service{Store: st, Hooks: map[string]fhir.WriteHook{"Basic": h}}

	res, err := svc.Create(ctx, "Basic", []byte(`{"resourceType":"Basic","code":{"text":"draft"}}`))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Resource.ID
	if !bytes.Contains(res.Resource.Body, []byte(`"rewritten"`)) {
		t.Errorf("stored body %s does not carry the hook's rewrite", res.Resource.Body)
	}
	if _, err := svc.Update(ctx, "Basic", id, []byte(`{"resourceType":"Basic","id":"`+id+`","code":{"text":"refuse"}}`), fhir.Preconditions{}); err == nil {
		t.Fatal("an update the hook refused succeeded")
	} else if oe := (*outcome.Error)(nil); !errors.As(err, &oe) || oe.Status() != 400 {
		t.Errorf("refused update: %v, want the hook's 400 outcome", err)
	}
	cur, err := svc.Read(ctx, "Basic", id)
	if err != nil || cur.VersionID != 1 {
		t.Fatalf("after a refused update: version %d, %v; want version 1 unchanged", cur.VersionID, err)
	}
	if _, err := svc.Patch(ctx, "Basic", id, []byte(`[{"op":"replace","path":"/code/text","value":"draft"}]`), fhir.Preconditions{}); err != nil {
		t.Fatal(err)
	}
	// Other types are not passed to the hook.
	if _, err := svc.Create(ctx, "Patient", []byte(`{"resourceType":"Patient"}`)); err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 1, 1}; len(h.previous) != len(want) || h.previous[0] != 0 || h.previous[1] != 1 || h.previous[2] != 1 {
		t.Errorf("hook saw previous versions %v, want %v", h.previous, want)
	}
}
