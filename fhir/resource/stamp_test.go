package resource

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir/outcome"
)

var stampTime = time.Date(2026, 11, 26, 23, 35, 12, 123456789, time.FixedZone("CET", 3600))

const stampTS = "2026-11-26T22:35:12.123Z"

func TestStamp(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{
			name: "insert id and meta after resourceType",
			body: `{"resourceType":"Patient","active":true}`,
			want: `{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"` + stampTS + `"},"active":true}`,
		},
		{
			name: "replace id in place, meta after it",
			body: `{"active":true,"id":"old","resourceType":"Patient","gender":"male"}`,
			want: `{"active":true,"id":"p1","meta":{"versionId":"3","lastUpdated":"` + stampTS + `"},"resourceType":"Patient","gender":"male"}`,
		},
		{
			name: "resourceType last",
			body: `{"active":true,"resourceType":"Patient"}`,
			want: `{"active":true,"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"` + stampTS + `"}}`,
		},
		{
			name: "keep other meta members in order",
			body: `{"resourceType":"Patient","meta":{"profile":["http://p"],"lastUpdated":"2001-01-01T00:00:00Z","tag":[{"code":"t"}],"versionId":"99","security":[{"code":"s"}],"source":"#src","extension":[{"url":"http://e","valueString":"x"}]},"id":"p1"}`,
			want: `{"resourceType":"Patient","meta":{"profile":["http://p"],"lastUpdated":"` + stampTS + `","tag":[{"code":"t"}],"versionId":"3","security":[{"code":"s"}],"source":"#src","extension":[{"url":"http://e","valueString":"x"}]},"id":"p1"}`,
		},
		{
			name: "meta without version members",
			body: `{"resourceType":"Patient","id":"x","meta":{"source":"#a"}}`,
			want: `{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"` + stampTS + `","source":"#a"}}`,
		},
		{
			name: "empty meta",
			body: `{"resourceType":"Patient","meta":{}}`,
			want: `{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"` + stampTS + `"}}`,
		},
		{
			name: "meta with _versionId extension kept",
			body: `{"resourceType":"Patient","meta":{"_versionId":{"id":"a"}}}`,
			want: `{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"` + stampTS + `","_versionId":{"id":"a"}}}`,
		},
		{
			name: "values byte for byte, whitespace dropped",
			body: "{\n  \"resourceType\" : \"Observation\",\n  \"valueQuantity\": { \"value\" : 1.50, \"unit\": \"mm Hg\" },\n  \"note\": [ {\"text\": \"caf\u00e9 \\u00e9 \\\" \\\\ \\/ 日本\"} ],\n  \"component\": [ { \"valueInteger\": -0 }, {\"valueDecimal\": 1.0e+2} ]\n}\n",
			want: `{"resourceType":"Observation","id":"p1","meta":{"versionId":"3","lastUpdated":"` + stampTS + `"},"valueQuantity":{"value":1.50,"unit":"mm Hg"},"note":[{"text":"café \u00e9 \" \\ \/ 日本"}],"component":[{"valueInteger":-0},{"valueDecimal":1.0e+2}]}`,
		},
		{
			name: "escaped member names",
			body: `{"resourceType":"Patient","\u0069d":"x","m\u0065ta":{"version\u0049d":"1"}}`,
			want: `{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"` + stampTS + `","versionId":"3"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Stamp([]byte(tt.body), "p1", 3, stampTime)
			if err != nil {
				t.Fatalf("Stamp: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Stamp =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("Stamp output is not valid JSON")
			}
			if vid, lu := Meta(got); vid != "3" || lu != stampTS {
				t.Errorf("Meta = %q, %q", vid, lu)
			}
		})
	}
}

func TestStampLastUpdated(t *testing.T) {
	for in, want := range map[time.Time]string{
		time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC):                        "2020-01-02T03:04:05.000Z",
		time.Date(2020, 1, 2, 3, 4, 5, 999999999, time.UTC):                "2020-01-02T03:04:05.999Z",
		time.Date(2020, 1, 1, 0, 30, 0, 1e6, time.FixedZone("+01", 3600)):  "2019-12-31T23:30:00.001Z",
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("-0930", -34200)): "2020-01-01T09:30:00.000Z",
	} {
		out, err := Stamp([]byte(`{"resourceType":"Patient"}`), "a", 1, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, lu := Meta(out); lu != want {
			t.Errorf("lastUpdated for %v = %q, want %q", in, lu, want)
		}
	}
}

func TestStampErrors(t *testing.T) {
	tests := []struct {
		name, body, id string
		vid            int64
		at             time.Time
		kind           outcome.Kind // KindInternal: a plain error (a caller's bug)
	}{
		{"invalid JSON", `{"resourceType":"Patient",}`, "a", 1, stampTime, outcome.KindStructure},
		{"duplicate member", `{"resourceType":"Patient","meta":{},"meta":{}}`, "a", 1, stampTime, outcome.KindStructure},
		{"not an object", `["Patient"]`, "a", 1, stampTime, outcome.KindInvalid},
		{"no resourceType", `{"id":"a"}`, "a", 1, stampTime, outcome.KindInvalid},
		{"meta not an object", `{"resourceType":"Patient","meta":[]}`, "a", 1, stampTime, outcome.KindInvalid},
		{"bad id", `{"resourceType":"Patient"}`, "a/b", 1, stampTime, outcome.KindInternal},
		{"empty id", `{"resourceType":"Patient"}`, "", 1, stampTime, outcome.KindInternal},
		{"version 0", `{"resourceType":"Patient"}`, "a", 0, stampTime, outcome.KindInternal},
		{"year 10000", `{"resourceType":"Patient"}`, "a", 1, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), outcome.KindInternal},
		{"zero time", `{"resourceType":"Patient"}`, "a", 1, time.Time{}, outcome.KindInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Stamp([]byte(tt.body), tt.id, tt.vid, tt.at)
			if err == nil {
				t.Fatalf("Stamp = %s, want an error", out)
			}
			if got := outcome.From(err).Kind; got != tt.kind {
				t.Errorf("Stamp error %v: kind %v, want %v", err, got, tt.kind)
			}
		})
	}
}

func TestMeta(t *testing.T) {
	for body, want := range map[string][2]string{
		`{"resourceType":"Patient","meta":{"versionId":"7","lastUpdated":"2020-01-01T00:00:00Z"}}`: {"7", "2020-01-01T00:00:00Z"},
		`{"meta":{"versionId":"a\u0062"},"resourceType":"Patient"}`:                                {"ab", ""},
		`{"resourceType":"Patient","meta":{"versionId":7}}`:                                        {"", ""},
		`{"resourceType":"Patient","contained":[{"meta":{"versionId":"9"}}]}`:                      {"", ""},
		`{"resourceType":"Patient"}`:                                                               {"", ""},
		`not json`:                                                                                 {"", ""},
	} {
		vid, lu := Meta([]byte(body))
		if vid != want[0] || lu != want[1] {
			t.Errorf("Meta(%s) = %q, %q; want %q, %q", body, vid, lu, want[0], want[1])
		}
	}
}

func TestDiffIgnoringMeta(t *testing.T) {
	tests := []struct {
		a, b  string
		equal bool
	}{
		{`{"resourceType":"Patient","id":"a"}`, `{"id":"a","resourceType":"Patient","meta":{"versionId":"1","lastUpdated":"x"}}`, true},
		{`{"resourceType":"Patient","meta":{"source":"s"}}`, `{"resourceType":"Patient","meta":{"versionId":"2","source":"s"}}`, true},
		{`{"resourceType":"Patient","meta":{"source":"s"}}`, `{"resourceType":"Patient"}`, false},
		{`{"a":1.50}`, `{"a":1.5}`, false},
		{`{"a":[1,2]}`, `{"a":[2,1]}`, false},
		{`{"a":"x"}`, ` { "a" : "x" } `, true},
	}
	for _, tt := range tests {
		d, err := DiffIgnoringMeta([]byte(tt.a), []byte(tt.b))
		if err != nil {
			t.Fatal(err)
		}
		if (d == "") != tt.equal || EqualIgnoringMeta([]byte(tt.a), []byte(tt.b)) != tt.equal {
			t.Errorf("DiffIgnoringMeta(%s, %s) = %q, want equal=%v", tt.a, tt.b, d, tt.equal)
		}
	}
	if _, err := DiffIgnoringMeta([]byte(`{`), []byte(`{}`)); err == nil {
		t.Error("DiffIgnoringMeta accepted invalid JSON")
	}
	if EqualIgnoringMeta([]byte(`{} {}`), []byte(`{}`)) {
		t.Error("EqualIgnoringMeta accepted trailing data")
	}
	if !strings.Contains(func() string { d, _ := DiffIgnoringMeta([]byte(`{"a":1}`), []byte(`{"a":2}`)); return d }(), "-") {
		t.Error("diff is empty")
	}
}
