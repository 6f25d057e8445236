package patch_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/telefhir/telefhir/fhir/patch"
)

func TestApplyOps(t *testing.T) {
	doc := []byte(`{"a":1.50,"b":["x","y"],"c":{"d":true}}`)
	tests := []struct {
		name    string
		ops     []patch.Op
		want    string
		wantErr error
		wantOp  int
	}{
		{
			name: "every op",
			ops: []patch.Op{
				{Op: "add", Path: "/b/1", Value: []byte(` "w" `)},
				{Op: "remove", Path: "/b/0"},
				{Op: "replace", Path: "/c/d", Value: []byte(`false`)},
				{Op: "move", From: "/b/1", Path: "/b/0"},
				{Op: "copy", From: "/a", Path: "/e~1f"},
				{Op: "test", Path: "/e~1f", Value: []byte(`1.5`)},
			},
			want: `{"a":1.50,"b":["y","w"],"c":{"d":false},"e/f":1.50}`,
		},
		{name: "no ops", want: `{"a":1.50,"b":["x","y"],"c":{"d":true}}`},
		{name: "unknown op", ops: []patch.Op{{Op: "add", Path: "/z", Value: []byte(`1`)}, {Op: "nope", Path: "/a"}}, wantErr: patch.ErrInvalidPatch, wantOp: 1},
		{name: "bad pointer", ops: []patch.Op{{Op: "remove", Path: "a"}}, wantErr: patch.ErrInvalidPatch},
		{name: "bad value", ops: []patch.Op{{Op: "add", Path: "/z", Value: []byte(`{`)}}, wantErr: patch.ErrInvalidPatch},
		{name: "missing value", ops: []patch.Op{{Op: "replace", Path: "/a"}}, wantErr: patch.ErrInvalidPatch},
		{name: "move into child", ops: []patch.Op{{Op: "move", From: "/c", Path: "/c/x"}}, wantErr: patch.ErrInvalidPatch},
		{name: "remove document", ops: []patch.Op{{Op: "remove", Path: ""}}, wantErr: patch.ErrInvalidPatch},
		{name: "path not found", ops: []patch.Op{{Op: "remove", Path: "/b/2"}}, wantErr: patch.ErrPathNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := patch.ApplyOps(doc, tt.ops)
			if tt.wantErr == nil {
				if err != nil || string(got) != tt.want {
					t.Fatalf("ApplyOps = %s, %v; want %s", got, err, tt.want)
				}
				// The same patch written as JSON gives the same result.
				raw := make([]map[string]any, len(tt.ops))
				for i, o := range tt.ops {
					raw[i] = map[string]any{"op": o.Op, "path": o.Path}
					if o.From != "" {
						raw[i]["from"] = o.From
					}
					if o.Value != nil {
						raw[i]["value"] = json.RawMessage(o.Value)
					}
				}
				p, _ := json.Marshal(raw)
				if len(tt.ops) == 0 {
					p = []byte(`[]`)
				}
				if viaJSON, err := patch.Apply(doc, p); err != nil || string(viaJSON) != tt.want {
					t.Errorf("Apply(%s) = %s, %v", p, viaJSON, err)
				}
				return
			}
			var perr *patch.Error
			if !errors.Is(err, tt.wantErr) || !errors.As(err, &perr) || got != nil {
				t.Fatalf("ApplyOps = %s, %v; want %v", got, err, tt.wantErr)
			}
			if perr.Op != tt.wantOp {
				t.Errorf("error at operation %d, want %d", perr.Op, tt.wantOp)
			}
		})
	}
}
