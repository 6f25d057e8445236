package sqlq

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/search"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the SQL generated now")

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"smi", "smj", true},
		{"az", "a{", true},
		{"zoë", "zoì", true},
		{"a\u007f", "a\u0080", true},
		{"a\ud7ff", "a\ue000", true},
		{"a\U0010ffff", "b", true},
		{"\U0010ffff\U0010ffff", "", false},
		{"a\xff", "b", true},
		{"a\x80", "a\x81", true},
	} {
		got, ok := PrefixEnd(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("PrefixEnd(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// FuzzPrefixEnd checks the property the prefix search relies on: a UTF-8
// string s starts with p exactly when p <= s < PrefixEnd(p). (Postgres
// stores only UTF-8, and index values are Go strings from JSON.)
func FuzzPrefixEnd(f *testing.F) {
	for _, s := range []string{"", "a", "smith", "zoë", "\U0010ffff", "a\xff", "\ud7ff"} {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if !utf8.ValidString(s) {
			return
		}
		end, ok := PrefixEnd(p)
		in := p <= s && (!ok || s < end)
		if in != strings.HasPrefix(s, p) {
			t.Errorf("prefix %q, end %q (%v), string %q: range says %v, HasPrefix %v", p, end, ok, s, in, !in)
		}
		if ok && utf8.ValidString(p) && !utf8.ValidString(end) {
			t.Errorf("PrefixEnd(%q) = %q is not UTF-8", p, end)
		}
	})
}

func TestEscapeLike(t *testing.T) {
	for in, want := range map[string]string{
		"":         "",
		"plain":    "plain",
		"100%":     `100\%`,
		"a_b":      `a\_b`,
		`back\sl`:  `back\\sl`,
		`\%_`:      `\\\%\_`,
		"o'brien":  "o'brien",
		"zoë_100%": `zoë\_100\%`,
	} {
		if got := EscapeLike(in); got != want {
			t.Errorf("EscapeLike(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("ë", MaxNorm) // 2 bytes each
	got := truncate(long, MaxNorm)
	if len(got) != MaxNorm || !utf8.ValidString(got) {
		t.Errorf("truncate: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	got = truncate("a"+long, MaxNorm)
	if len(got) != MaxNorm-1 || !utf8.ValidString(got) {
		t.Errorf("truncate at a rune boundary: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

func TestArrays(t *testing.T) {
	x := &search.Index{
		Tokens: []search.TokenRow{{Param: "code", Group: 1, System: "s", Code: "c", Text: "t"}, {Param: "code", Code: "d"}},
		Dates:  []search.DateRow{{Param: "date", Low: 1, High: 2}},
	}
	want := []any{[]string{"code", "code"}, []int64{1, 0}, []string{"s", ""}, []string{"c", "d"}, []string{"t", ""}}
	if diff := cmp.Diff(want, TokenTable.Arrays(x)); diff != "" {
		t.Errorf("token arrays (-want +got):\n%s", diff)
	}
	for _, tbl := range Tables {
		for _, a := range tbl.Arrays(nil) {
			if a == nil {
				t.Errorf("%s: nil array for a nil index", tbl.Name)
			}
		}
		if got := len(tbl.Arrays(x)); got != len(tbl.Columns) {
			t.Errorf("%s: %d arrays for %d columns", tbl.Name, got, len(tbl.Columns))
		}
	}
}

// TestGoldenSQL pins the SQL generated for representative searches in both
// dialects; run with -update after a deliberate change and review the diff.
func TestGoldenSQL(t *testing.T) {
	loinc := "http://loinc.org"
	day := int64(1767225600000) // 2026-01-01
	for _, c := range []struct {
		name string
		q    search.Query
	}{
		{"observation_subject_code_date", search.Query{
			Types: []string{"Observation"},
			Where: []search.Clause{
				{Or: []search.Predicate{{Param: "subject", Type: search.TypeReference, Reference: &search.ReferenceMatch{Type: "Patient", ID: "X"}}}},
				{Or: []search.Predicate{{Param: "code", Type: search.TypeToken, Token: &search.TokenMatch{System: loinc, SystemSet: true, Code: "8867-4"}}}},
				{Or: []search.Predicate{{Param: "date", Type: search.TypeDate, Date: &search.DateMatch{Prefix: search.Ge, Low: day, High: day + 86_400_000 - 1}}}},
			},
			Sort:  []search.SortKey{{Param: "date", Type: search.TypeDate, Desc: true}},
			Count: 50,
		}},
		{"observation_subject_code_date_page2", search.Query{
			Types: []string{"Observation"},
			Where: []search.Clause{
				{Or: []search.Predicate{{Param: "subject", Type: search.TypeReference, Reference: &search.ReferenceMatch{Type: "Patient", ID: "X"}}}},
			},
			Sort:  []search.SortKey{{Param: "date", Type: search.TypeDate, Desc: true}, {Param: search.ParamLastUpdated, Type: search.TypeDate}},
			Count: 50,
			After: &search.Cursor{Values: []any{day, int64(1767225600123)}, Key: 4711, Snapshot: 9000},
		}},
		{"patient_name_missing_not", search.Query{
			Types: []string{"Patient"},
			Where: []search.Clause{
				{Or: []search.Predicate{
					{Param: "name", Type: search.TypeString, String: &search.StringMatch{Value: "smi"}},
					{Param: "name", Type: search.TypeString, String: &search.StringMatch{Mode: search.StringContains, Value: "50%_"}},
				}},
				{Or: []search.Predicate{{Param: "birthdate", Type: search.TypeDate, Missing: new(bool)}}},
				{Or: []search.Predicate{{Param: "gender", Type: search.TypeToken, Not: true, Token: &search.TokenMatch{Code: "male"}}}},
			},
			Count: 10,
		}},
		{"chain_has_composite", search.Query{
			Types: []string{"Patient"},
			Where: []search.Clause{
				{Or: []search.Predicate{{Param: "organization", Type: search.TypeReference, Reference: &search.ReferenceMatch{
					Chain: &search.Query{Types: []string{"Organization"}, Where: []search.Clause{
						{Or: []search.Predicate{{Param: "name", Type: search.TypeString, String: &search.StringMatch{Value: "acme"}}}},
					}},
				}}}},
				{Or: []search.Predicate{{Has: &search.Has{Type: "Observation", Param: "subject", Where: []search.Clause{
					{Or: []search.Predicate{{Param: "code-value-quantity", Type: search.TypeComposite, Composite: []search.Predicate{
						{Param: "code-value-quantity:0", Type: search.TypeToken, Token: &search.TokenMatch{Code: "8480-6"}},
						{Param: "code-value-quantity:1", Type: search.TypeQuantity, Quantity: &search.QuantityMatch{Prefix: search.Gt, Value: 140, Low: 139.5, High: 140.5}},
					}}}},
				}}}}},
			},
			Sort:  []search.SortKey{{Param: "name", Type: search.TypeString}, {Param: search.ParamID, Type: search.TypeToken, Desc: true}},
			Count: 20,
		}},
	} {
		for _, d := range []struct {
			name string
			d    *Dialect
		}{{"postgres", Postgres}, {"sqlite", SQLite}} {
			t.Run(c.name+"/"+d.name, func(t *testing.T) {
				sql, args, err := PageSQL(d.d, c.q)
				if err != nil {
					t.Fatal(err)
				}
				got := fmt.Sprintf("%s\n\n-- arguments\n", sql)
				for i, a := range args {
					got += fmt.Sprintf("-- %d: %T %v\n", i+1, a, a)
				}
				path := filepath.Join("testdata", c.name+"."+d.name+".golden")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", path, diff)
				}
			})
		}
	}
}

// TestValuesAreBound checks that no value of a query reaches the SQL text.
func TestValuesAreBound(t *testing.T) {
	evil := `x'); DROP TABLE resource; --`
	q := search.Query{
		Types: []string{evil},
		Where: []search.Clause{{Or: []search.Predicate{
			{Param: evil, Type: search.TypeString, String: &search.StringMatch{Mode: search.StringContains, Value: evil}},
			{Param: evil, Type: search.TypeToken, Token: &search.TokenMatch{System: evil, SystemSet: true, Code: evil}},
			{Param: evil, Type: search.TypeReference, Reference: &search.ReferenceMatch{Type: evil, ID: evil}},
			{Param: evil, Type: search.TypeURI, URI: &search.URIMatch{Value: evil, Above: true}},
			{Param: search.ParamID, Type: search.TypeToken, Token: &search.TokenMatch{Code: evil}},
			{Has: &search.Has{Type: evil, Param: evil}},
		}}},
		Sort:  []search.SortKey{{Param: evil, Type: search.TypeString}},
		Count: 1,
	}
	for _, d := range []*Dialect{Postgres, SQLite} {
		sql, _, err := PageSQL(d, q)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sql, "DROP") || strings.Contains(sql, "x'") {
			t.Errorf("a value reached the SQL text:\n%s", sql)
		}
	}
}
