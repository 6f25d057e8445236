package jsonscan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestObjectArrayString(t *testing.T) {
	s := Scanner{B: []byte(` {"a": "x\u00e9\"", "b": [1, {"c": null}, true], "d": {}} `)}
	var got []string
	err := s.Object(0, func(name string) error {
		got = append(got, name)
		switch name {
		case "a":
			v, err := s.String()
			got = append(got, v)
			return err
		case "b":
			return s.Array(1, func(i int) error {
				v, err := s.Value(2)
				got = append(got, string(v))
				return err
			})
		}
		return s.Skip(1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "xé\"", "b", "1", `{"c": null}`, "true", "d"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":1}}`, `tru`, `nul`, `01`, `1.`, `-`, `"abc`,
		"\"a\x01\"", "\"\xff\"", `"\q"`, strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2),
	} {
		s := Scanner{B: []byte(in)}
		err := s.Skip(0)
		if err == nil {
			err = s.End()
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v, want a SyntaxError", in, err)
		}
	}
}

// FuzzSkip: what the scanner accepts is valid JSON, and valid UTF-8 JSON
// of reasonable depth is accepted.
func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,-0.1,"x\n"],"b":{"c":null,"d":true}}`, `[]`, `"\ud83d\ude00"`, `{"a":01}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Scanner{B: b}
		err := s.Skip(0)
		if err == nil {
			err = s.End()
		}
		valid := json.Valid(b)
		if err == nil && !valid {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		if err != nil && valid && utf8.Valid(b) && depth(b) <= MaxDepth {
			t.Fatalf("rejected valid JSON %q: %v", b, err)
		}
	})
}

// depth is the deepest nesting of brackets in b, strings aside.
func depth(b []byte) int {
	d, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}
