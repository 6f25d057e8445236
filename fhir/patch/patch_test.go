package patch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/telefhir/telefhir/fhir/patch"
)

// applyCase is one Apply call and what it must produce: either want (the
// exact compact output) or an error of kind wantErr at operation wantOp
// whose message contains wantMsg.
type applyCase struct {
	name    string
	doc     string
	patch   string
	want    string
	wantErr error
	wantOp  int
	wantMsg string
}

func runCases(t *testing.T, cases []applyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, p := []byte(tc.doc), []byte(tc.patch)
			docCopy, pCopy := bytes.Clone(doc), bytes.Clone(p)
			got, err := patch.Apply(doc, p)
			if !bytes.Equal(doc, docCopy) || !bytes.Equal(p, pCopy) {
				t.Errorf("Apply modified its inputs")
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Apply: unexpected error: %v", err)
				}
				if diff := cmp.Diff(tc.want, string(got)); diff != "" {
					t.Errorf("Apply result mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("Apply = %s, want error %v", got, tc.wantErr)
			}
			if got != nil {
				t.Errorf("Apply returned a document with an error: %s", got)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Apply error %q: want errors.Is(err, %v)", err, tc.wantErr)
			}
			var perr *patch.Error
			if !errors.As(err, &perr) {
				t.Fatalf("Apply error %T is not a *patch.Error", err)
			}
			if perr.Op != tc.wantOp {
				t.Errorf("Error.Op = %d, want %d (%v)", perr.Op, tc.wantOp, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Error() = %q, want it to contain %q", err.Error(), tc.wantMsg)
			}
		})
	}
}

// TestRFC6902AppendixA runs the examples of RFC 6902 appendix A. Where the
// RFC shows a new member first, the result here has it last: Apply keeps
// existing members in place and appends new ones.
func TestRFC6902AppendixA(t *testing.T) {
	runCases(t, []applyCase{
		{
			name:  "A.1 adding an object member",
			doc:   `{"foo": "bar"}`,
			patch: `[{ "op": "add", "path": "/baz", "value": "qux" }]`,
			want:  `{"foo":"bar","baz":"qux"}`,
		},
		{
			name:  "A.2 adding an array element",
			doc:   `{"foo": [ "bar", "baz" ]}`,
			patch: `[{ "op": "add", "path": "/foo/1", "value": "qux" }]`,
			want:  `{"foo":["bar","qux","baz"]}`,
		},
		{
			name:  "A.3 removing an object member",
			doc:   `{"baz": "qux", "foo": "bar"}`,
			patch: `[{ "op": "remove", "path": "/baz" }]`,
			want:  `{"foo":"bar"}`,
		},
		{
			name:  "A.4 removing an array element",
			doc:   `{"foo": [ "bar", "qux", "baz" ]}`,
			patch: `[{ "op": "remove", "path": "/foo/1" }]`,
			want:  `{"foo":["bar","baz"]}`,
		},
		{
			name:  "A.5 replacing a value",
			doc:   `{"baz": "qux", "foo": "bar"}`,
			patch: `[{ "op": "replace", "path": "/baz", "value": "boo" }]`,
			want:  `{"baz":"boo","foo":"bar"}`,
		},
		{
			name:  "A.6 moving a value",
			doc:   `{"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}`,
			patch: `[{ "op": "move", "from": "/foo/waldo", "path": "/qux/thud" }]`,
			want:  `{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}`,
		},
		{
			name:  "A.7 moving an array element",
			doc:   `{"foo": [ "all", "grass", "cows", "eat" ]}`,
			patch: `[{ "op": "move", "from": "/foo/1", "path": "/foo/3" }]`,
			want:  `{"foo":["all","cows","eat","grass"]}`,
		},
		{
			name: "A.8 testing a value: success",
			doc:  `{"baz": "qux", "foo": [ "a", 2, "c" ]}`,
			patch: `[{ "op": "test", "path": "/baz", "value": "qux" },
			         { "op": "test", "path": "/foo/1", "value": 2 }]`,
			want: `{"baz":"qux","foo":["a",2,"c"]}`,
		},
		{
			name:    "A.9 testing a value: error",
			doc:     `{ "baz": "qux" }`,
			patch:   `[{ "op": "test", "path": "/baz", "value": "bar" }]`,
			wantErr: patch.ErrTestFailed,
			wantMsg: "operation 0 (test): value at /baz is not equal to the expected value",
		},
		{
			name:  "A.10 adding a nested member object",
			doc:   `{ "foo": "bar" }`,
			patch: `[{ "op": "add", "path": "/child", "value": { "grandchild": { } } }]`,
			want:  `{"foo":"bar","child":{"grandchild":{}}}`,
		},
		{
			name:  "A.11 ignoring unrecognized elements",
			doc:   `{ "foo": "bar" }`,
			patch: `[{ "op": "add", "path": "/baz", "value": "qux", "xyz": 123 }]`,
			want:  `{"foo":"bar","baz":"qux"}`,
		},
		{
			name:    "A.12 adding to a nonexistent target",
			doc:     `{ "foo": "bar" }`,
			patch:   `[{ "op": "add", "path": "/baz/bat", "value": "qux" }]`,
			wantErr: patch.ErrPathNotFound,
			wantMsg: "operation 0 (add): path /baz/bat does not exist: /baz does not exist",
		},
		{
			name:    "A.13 invalid JSON Patch document",
			doc:     `{ "foo": "bar" }`,
			patch:   `[{ "op": "add", "path": "/baz", "value": "qux", "op": "remove" }]`,
			wantErr: patch.ErrInvalidPatch,
			wantMsg: `operation 0: member "op" appears more than once`,
		},
		{
			name:  "A.14 ~ escape ordering",
			doc:   `{ "/": 9, "~1": 10 }`,
			patch: `[{"op": "test", "path": "/~01", "value": 10}]`,
			want:  `{"/":9,"~1":10}`,
		},
		{
			name:    "A.15 comparing strings and numbers",
			doc:     `{ "/": 9, "~1": 10 }`,
			patch:   `[{"op": "test", "path": "/~01", "value": "10"}]`,
			wantErr: patch.ErrTestFailed,
			wantMsg: "value at /~01 is not equal",
		},
		{
			name:  "A.16 adding an array value",
			doc:   `{ "foo": ["bar"] }`,
			patch: `[{ "op": "add", "path": "/foo/-", "value": ["abc", "def"] }]`,
			want:  `{"foo":["bar",["abc","def"]]}`,
		},
	})
}

// TestPointer evaluates the RFC 6901 section 5 examples through "test".
func TestPointer(t *testing.T) {
	doc := `{"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4,
	         "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8}`
	runCases(t, []applyCase{
		{
			name: "RFC 6901 examples",
			doc:  doc,
			patch: `[
				{"op": "test", "path": "", "value": {"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3,
				  "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8}},
				{"op": "test", "path": "/foo", "value": ["bar", "baz"]},
				{"op": "test", "path": "/foo/0", "value": "bar"},
				{"op": "test", "path": "/", "value": 0},
				{"op": "test", "path": "/a~1b", "value": 1},
				{"op": "test", "path": "/c%d", "value": 2},
				{"op": "test", "path": "/e^f", "value": 3},
				{"op": "test", "path": "/g|h", "value": 4},
				{"op": "test", "path": "/i\\j", "value": 5},
				{"op": "test", "path": "/k\"l", "value": 6},
				{"op": "test", "path": "/ ", "value": 7},
				{"op": "test", "path": "/m~0n", "value": 8}
			]`,
			want: `{"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8}`,
		},
		{
			name:  "new member names are escaped",
			doc:   `{}`,
			patch: `[{"op": "add", "path": "/a~1b~0c\"<&>", "value": 1}]`,
			want:  `{"a/b~c\"<&>":1}`,
		},
		{
			name:  "empty member name after trailing slash",
			doc:   `{"foo": {}}`,
			patch: `[{"op": "add", "path": "/foo/", "value": 1}]`,
			want:  `{"foo":{"":1}}`,
		},
		{
			name:  "member named 0 in an object",
			doc:   `{"foo": 1}`,
			patch: `[{"op": "add", "path": "/0", "value": "bar"}]`,
			want:  `{"foo":1,"0":"bar"}`,
		},
		{
			name:  "member name with unicode escape matches decoded pointer",
			doc:   `{"caf\u00e9": 1}`,
			patch: `[{"op": "replace", "path": "/café", "value": 2}]`,
			want:  `{"caf\u00e9":2}`,
		},
		{
			name:    "pointer without leading slash",
			doc:     `{"foo": 1}`,
			patch:   `[{"op": "remove", "path": "foo"}]`,
			wantErr: patch.ErrInvalidPatch,
			wantMsg: `operation 0 (remove): invalid JSON Pointer "foo"`,
		},
		{
			name:    "bad tilde escape",
			doc:     `{"foo": 1}`,
			patch:   `[{"op": "remove", "path": "/fo~2o"}]`,
			wantErr: patch.ErrInvalidPatch,
			wantMsg: `"~" must be followed by "0" or "1"`,
		},
		{
			name:    "trailing tilde",
			doc:     `{"foo": 1}`,
			patch:   `[{"op": "remove", "path": "/foo~"}]`,
			wantErr: patch.ErrInvalidPatch,
			wantMsg: `invalid JSON Pointer`,
		},
		{
			name:    "array index with leading zero",
			doc:     `["foo", "bar"]`,
			patch:   `[{"op": "test", "path": "/01", "value": "bar"}]`,
			wantErr: patch.ErrPathNotFound,
			wantMsg: `"01" is not an array index and the document is an array`,
		},
		{
			name:    "array index in exponent form",
			doc:     `["foo", "bar"]`,
			patch:   `[{"op": "test", "path": "/1e0", "value": "bar"}]`,
			wantErr: patch.ErrPathNotFound,
			wantMsg: `"1e0" is not an array index`,
		},
		{
			name:    "negative array index",
			doc:     `{"bar": [1, 2]}`,
			patch:   `[{"op": "add", "path": "/bar/-1", "value": 5}]`,
			wantErr: patch.ErrPathNotFound,
			wantMsg: `"-1" is not an array index and /bar is an array`,
		},
		{
			name:    "huge array index",
			doc:     `{"bar": [1, 2]}`,
			patch:   `[{"op": "add", "path": "/bar/99999999999999999999999", "value": 5}]`,
			wantErr: patch.ErrPathNotFound,
			wantMsg: `is not an array index`,
		},
		{
			name:    "pointer through a string",
			doc:     `{"birthDate": "1970-01-01"}`,
			patch:   `[{"op": "replace", "path": "/birthDate/year", "value": 1971}]`,
			wantErr: patch.ErrPathNotFound,
			wantMsg: `path /birthDate/year does not exist: /birthDate is a string`,
		},
		{
			name:    "pointer through a number deep down",
			doc:     `{"a": {"b": 1}}`,
			patch:   `[{"op": "test", "path": "/a/b/c/d", "value": 1}]`,
			wantErr: patch.ErrPathNotFound,
			wantMsg: `path /a/b/c/d does not exist: /a/b is a number`,
		},
	})
}

func TestAdd(t *testing.T) {
	runCases(t, []applyCase{
		{"replaces an existing member in place", `{"a":1,"foo":null,"z":2}`, `[{"op":"add","path":"/foo","value":1}]`, `{"a":1,"foo":1,"z":2}`, nil, 0, ""},
		{"into empty top-level array", `[]`, `[{"op":"add","path":"/0","value":"foo"}]`, `["foo"]`, nil, 0, ""},
		{"append with dash to root array", `[]`, `[{"op":"add","path":"/-","value":"hi"}]`, `["hi"]`, nil, 0, ""},
		{"insert at front", `["foo","sil"]`, `[{"op":"add","path":"/0","value":"bar"}]`, `["bar","foo","sil"]`, nil, 0, ""},
		{"insert at length appends", `["foo","sil"]`, `[{"op":"add","path":"/2","value":"bar"}]`, `["foo","sil","bar"]`, nil, 0, ""},
		{"array value is not flattened", `["foo","sil"]`, `[{"op":"add","path":"/1","value":["bar","baz"]}]`, `["foo",["bar","baz"],"sil"]`, nil, 0, ""},
		{"dash deep down", `[1,2,[3,[4,5]]]`, `[{"op":"add","path":"/2/1/-","value":{"foo":["bar","baz"]}}]`, `[1,2,[3,[4,5,{"foo":["bar","baz"]}]]]`, nil, 0, ""},
		{"whole document", `{"foo":"bar"}`, `[{"op":"add","path":"","value":{"baz":"qux"}}]`, `{"baz":"qux"}`, nil, 0, ""},
		{"whole document object to array", `{}`, `[{"op":"add","path":"","value":[]}]`, `[]`, nil, 0, ""},
		{"null value", `{"foo":1}`, `[{"op":"add","path":"/bar","value":null}]`, `{"foo":1,"bar":null}`, nil, 0, ""},
		{"value keeps its own bytes", `{}`, `[{"op":"add","path":"/v","value": { "q" : 1.50E+2 , "s" : "\u00e9\n" } }]`, `{"v":{"q":1.50E+2,"s":"\u00e9\n"}}`, nil, 0, ""},
		{"fhir extension", `{"resourceType":"Patient","id":"p1","name":[{"family":"Chalmers","given":["Peter","James"]}]}`,
			`[{"op":"add","path":"/name/0/given/-","value":"Jim"},{"op":"add","path":"/active","value":true}]`,
			`{"resourceType":"Patient","id":"p1","name":[{"family":"Chalmers","given":["Peter","James","Jim"]}],"active":true}`, nil, 0, ""},
		{"index past the end", `{"bar":[1,2]}`, `[{"op":"add","path":"/bar/8","value":"5"}]`, "", patch.ErrPathNotFound, 0,
			"operation 0 (add): path /bar/8 does not exist: index 8 is out of range, /bar has 2 elements"},
		{"index one past length", `["foo","sil"]`, `[{"op":"add","path":"/3","value":"bar"}]`, "", patch.ErrPathNotFound, 0, "index 3 is out of range, the document has 2 elements"},
		{"member name on an array", `["foo","sil"]`, `[{"op":"add","path":"/bar","value":42}]`, "", patch.ErrPathNotFound, 0, `"bar" is not an array index`},
		{"parent is a scalar", `{"a":"x"}`, `[{"op":"add","path":"/a/b","value":1}]`, "", patch.ErrPathNotFound, 0, "/a is a string"},
		{"root is a scalar", `3`, `[{"op":"add","path":"/a","value":1}]`, "", patch.ErrPathNotFound, 0, "path /a does not exist: the document is a number"},
		{"missing value", `[1]`, `[{"op":"add","path":"/-"}]`, "", patch.ErrInvalidPatch, 0, `operation 0 (add): missing "value"`},
	})
}

func TestRemove(t *testing.T) {
	runCases(t, []applyCase{
		{"member", `{"foo":1,"bar":[1,2,3,4]}`, `[{"op":"remove","path":"/bar"}]`, `{"foo":1}`, nil, 0, ""},
		{"nested member", `{"foo":1,"baz":[{"qux":"hello"}]}`, `[{"op":"remove","path":"/baz/0/qux"}]`, `{"foo":1,"baz":[{}]}`, nil, 0, ""},
		{"null member", `{"foo":null}`, `[{"op":"remove","path":"/foo"}]`, `{}`, nil, 0, ""},
		{"first element", `[1,2,3,4]`, `[{"op":"remove","path":"/0"}]`, `[2,3,4]`, nil, 0, ""},
		{"repeated removes see earlier ones", `[1,2,3,4]`, `[{"op":"remove","path":"/1"},{"op":"remove","path":"/2"}]`, `[1,3]`, nil, 0, ""},
		{"keeps order of the rest", `{"a":1,"b":2,"c":3,"d":4}`, `[{"op":"remove","path":"/b"}]`, `{"a":1,"c":3,"d":4}`, nil, 0, ""},
		{"nonexistent member", `{"foo":"bar"}`, `[{"op":"remove","path":"/baz"}]`, "", patch.ErrPathNotFound, 0, "operation 0 (remove): path /baz does not exist"},
		{"nonexistent index", `["foo","bar"]`, `[{"op":"remove","path":"/2"}]`, "", patch.ErrPathNotFound, 0, "index 2 is out of range"},
		{"dash names no element", `["foo"]`, `[{"op":"remove","path":"/-"}]`, "", patch.ErrPathNotFound, 0, `"-" (past the end of the document) names no element`},
		{"bad index", `[1,2,3,4]`, `[{"op":"remove","path":"/1e0"}]`, "", patch.ErrPathNotFound, 0, "not an array index"},
		{"whole document", `{"foo":1}`, `[{"op":"remove","path":""}]`, "", patch.ErrInvalidPatch, 0, "cannot remove the whole document"},
		{"second op fails", `{"a":1}`, `[{"op":"remove","path":"/a"},{"op":"remove","path":"/a"}]`, "", patch.ErrPathNotFound, 1, "operation 1 (remove): path /a does not exist"},
		{"missing path", `{"a":1}`, `[{"op":"remove"}]`, "", patch.ErrInvalidPatch, 0, `operation 0 (remove): missing "path"`},
	})
}

func TestReplace(t *testing.T) {
	runCases(t, []applyCase{
		{"member with array", `{"foo":1,"baz":[{"qux":"hello"}]}`, `[{"op":"replace","path":"/foo","value":[1,2,3,4]}]`, `{"foo":[1,2,3,4],"baz":[{"qux":"hello"}]}`, nil, 0, ""},
		{"nested member", `{"foo":[1,2,3,4],"baz":[{"qux":"hello"}]}`, `[{"op":"replace","path":"/baz/0/qux","value":"world"}]`, `{"foo":[1,2,3,4],"baz":[{"qux":"world"}]}`, nil, 0, ""},
		{"element", `[""]`, `[{"op":"replace","path":"/0","value":0}]`, `[0]`, nil, 0, ""},
		{"with null", `{"foo":"bar"}`, `[{"op":"replace","path":"/foo","value":null}]`, `{"foo":null}`, nil, 0, ""},
		{"null with value", `{"foo":null}`, `[{"op":"replace","path":"/foo","value":"truthy"}]`, `{"foo":"truthy"}`, nil, 0, ""},
		{"whole document", `{"foo":"bar"}`, `[{"op":"replace","path":"","value":{"baz":"qux"}}]`, `{"baz":"qux"}`, nil, 0, ""},
		{"scalar document", `"foo"`, `[{"op":"replace","path":"","value":"bar"}]`, `"bar"`, nil, 0, ""},
		{"keeps member position", `{"a":1,"b":2,"c":3}`, `[{"op":"replace","path":"/b","value":{"x":true}}]`, `{"a":1,"b":{"x":true},"c":3}`, nil, 0, ""},
		{"fhir name", `{"resourceType":"Patient","name":[{"family":"Chalmers"},{"family":"Windsor"}]}`,
			`[{"op":"replace","path":"/name/1/family","value":"Jones"}]`,
			`{"resourceType":"Patient","name":[{"family":"Chalmers"},{"family":"Jones"}]}`, nil, 0, ""},
		{"missing element", `{"name":[{},{}]}`, `[{"op":"test","path":"/name","value":[{},{}]},{"op":"add","path":"/x","value":1},{"op":"replace","path":"/name/5","value":{}}]`, "", patch.ErrPathNotFound, 2,
			"operation 2 (replace): path /name/5 does not exist: index 5 is out of range, /name has 2 elements"},
		{"missing member", `{"bar":"baz"}`, `[{"op":"replace","path":"/foo","value":false}]`, "", patch.ErrPathNotFound, 0, "operation 0 (replace): path /foo does not exist"},
		{"missing parent", `{"bar":"baz"}`, `[{"op":"replace","path":"/foo/bar","value":false}]`, "", patch.ErrPathNotFound, 0, "path /foo/bar does not exist: /foo does not exist"},
		{"dash", `[1]`, `[{"op":"replace","path":"/-","value":2}]`, "", patch.ErrPathNotFound, 0, `"-"`},
		{"missing value", `[1]`, `[{"op":"replace","path":"/0"}]`, "", patch.ErrInvalidPatch, 0, `operation 0 (replace): missing "value"`},
	})
}

func TestMove(t *testing.T) {
	runCases(t, []applyCase{
		{"to same location is a no-op", `{"foo":1,"bar":2}`, `[{"op":"move","from":"/foo","path":"/foo"}]`, `{"foo":1,"bar":2}`, nil, 0, ""},
		{"renames a member to the end", `{"foo":1,"baz":[{"qux":"hello"}]}`, `[{"op":"move","from":"/foo","path":"/bar"}]`, `{"baz":[{"qux":"hello"}],"bar":1}`, nil, 0, ""},
		{"member into array", `{"baz":[{"qux":"hello"}],"bar":1}`, `[{"op":"move","from":"/baz/0/qux","path":"/baz/1"}]`, `{"baz":[{},"hello"],"bar":1}`, nil, 0, ""},
		{"null member", `{"foo":null}`, `[{"op":"move","from":"/foo","path":"/bar"}]`, `{"bar":null}`, nil, 0, ""},
		{"onto an existing member replaces it", `{"a":1,"b":2}`, `[{"op":"move","from":"/a","path":"/b"}]`, `{"b":1}`, nil, 0, ""},
		{"element to end with dash", `[1,2,3]`, `[{"op":"move","from":"/0","path":"/-"}]`, `[2,3,1]`, nil, 0, ""},
		{"whole member to root", `{"a":{"b":1}}`, `[{"op":"move","from":"/a","path":""}]`, `{"b":1}`, nil, 0, ""},
		{"moved value keeps its bytes", `{"a":{"x":1.50,"y":"\u00e9"},"b":{}}`, `[{"op":"move","from":"/a","path":"/b/c"}]`, `{"b":{"c":{"x":1.50,"y":"\u00e9"}}}`, nil, 0, ""},
		{"moved subtree can be patched after", `{"a":{"x":1}}`, `[{"op":"move","from":"/a","path":"/b"},{"op":"add","path":"/b/y","value":2}]`, `{"b":{"x":1,"y":2}}`, nil, 0, ""},
		{"into its own child", `{"a":{"b":{}}}`, `[{"op":"move","from":"/a","path":"/a/b/c"}]`, "", patch.ErrInvalidPatch, 0, "operation 0 (move): cannot move /a into its own child /a/b/c"},
		{"root into a child", `{"a":{}}`, `[{"op":"move","from":"","path":"/a"}]`, "", patch.ErrInvalidPatch, 0, "cannot move \"\" (the whole document) into its own child /a"},
		{"sibling with a common name prefix is fine", `{"a":1,"ab":{}}`, `[{"op":"move","from":"/a","path":"/ab/x"}]`, `{"ab":{"x":1}}`, nil, 0, ""},
		{"missing from member", `{"foo":1}`, `[{"op":"move","from":"/bar","path":"/baz"}]`, "", patch.ErrPathNotFound, 0, "path /bar does not exist"},
		{"same location must exist", `{"foo":1}`, `[{"op":"move","from":"/bar","path":"/bar"}]`, "", patch.ErrPathNotFound, 0, "path /bar does not exist"},
		{"bad from index", `{"foo":1,"baz":[1,2,3,4]}`, `[{"op":"move","from":"/baz/1e0","path":"/foo"}]`, "", patch.ErrPathNotFound, 0, "not an array index"},
		{"missing target parent", `{"foo":1}`, `[{"op":"move","from":"/foo","path":"/x/y"}]`, "", patch.ErrPathNotFound, 0, "path /x/y does not exist: /x does not exist"},
		{"missing from", `{"foo":1}`, `[{"op":"move","path":""}]`, "", patch.ErrInvalidPatch, 0, `operation 0 (move): missing "from"`},
		{"from not a string", `{"foo":1}`, `[{"op":"move","from":1,"path":"/a"}]`, "", patch.ErrInvalidPatch, 0, `"from" must be a string, got a number`},
	})
}

func TestCopy(t *testing.T) {
	runCases(t, []applyCase{
		{"element to member", `{"baz":[{"qux":"hello"}],"bar":1}`, `[{"op":"copy","from":"/baz/0","path":"/boo"}]`, `{"baz":[{"qux":"hello"}],"bar":1,"boo":{"qux":"hello"}}`, nil, 0, ""},
		{"null member", `{"foo":null}`, `[{"op":"copy","from":"/foo","path":"/bar"}]`, `{"foo":null,"bar":null}`, nil, 0, ""},
		{"into its own child is allowed", `{"a":{"b":1}}`, `[{"op":"copy","from":"/a","path":"/a/c"}]`, `{"a":{"b":1,"c":{"b":1}}}`, nil, 0, ""},
		{"copies are independent", `{"a":{"b":1}}`, `[{"op":"copy","from":"/a","path":"/c"},{"op":"replace","path":"/c/b","value":2}]`, `{"a":{"b":1},"c":{"b":2}}`, nil, 0, ""},
		{"source edited after copy", `{"a":{"b":1}}`, `[{"op":"add","path":"/a/x","value":0},{"op":"copy","from":"/a","path":"/c"},{"op":"remove","path":"/a/b"}]`, `{"a":{"x":0},"c":{"b":1,"x":0}}`, nil, 0, ""},
		{"whole document", `{"a":1}`, `[{"op":"copy","from":"","path":"/b"}]`, `{"a":1,"b":{"a":1}}`, nil, 0, ""},
		{"bad from index", `{"baz":[1,2,3],"bar":1}`, `[{"op":"copy","from":"/baz/1e0","path":"/boo"}]`, "", patch.ErrPathNotFound, 0, "operation 0 (copy): path /baz/1e0 does not exist"},
		{"missing from", `[1]`, `[{"op":"copy","path":"/-"}]`, "", patch.ErrInvalidPatch, 0, `operation 0 (copy): missing "from"`},
	})
}

func TestTest(t *testing.T) {
	runCases(t, []applyCase{
		{"null", `{"foo":null}`, `[{"op":"test","path":"/foo","value":null}]`, `{"foo":null}`, nil, 0, ""},
		{"object member order does not matter", `{"foo":{"foo":1,"bar":2}}`, `[{"op":"test","path":"/foo","value":{"bar":2,"foo":1}}]`, `{"foo":{"foo":1,"bar":2}}`, nil, 0, ""},
		{"nested reordering", `{"foo":[{"foo":1,"bar":2}]}`, `[{"op":"test","path":"/foo","value":[{"bar":2,"foo":1}]}]`, `{"foo":[{"foo":1,"bar":2}]}`, nil, 0, ""},
		{"numbers compare by value", `{"v":1.50}`, `[{"op":"test","path":"/v","value":1.5},{"op":"test","path":"/v","value":15e-1},{"op":"test","path":"/v","value":0.0150E+2}]`, `{"v":1.50}`, nil, 0, ""},
		{"zeros", `[0,-0,0.0,0e10]`, `[{"op":"test","path":"/0","value":-0.00},{"op":"test","path":"/1","value":0},{"op":"test","path":"/3","value":0}]`, `[0,-0,0.0,0e10]`, nil, 0, ""},
		{"big exact numbers", `{"v":12345678901234567890123456789}`, `[{"op":"test","path":"/v","value":1.2345678901234567890123456789e28}]`, `{"v":12345678901234567890123456789}`, nil, 0, ""},
		{"strings compare decoded", `{"v":"caf\u00e9"}`, `[{"op":"test","path":"/v","value":"café"}]`, `{"v":"caf\u00e9"}`, nil, 0, ""},
		{"whole document", `{"foo":1}`, `[{"op":"test","path":"","value":{"foo":1}}]`, `{"foo":1}`, nil, 0, ""},
		{"empty member name", `{"":1}`, `[{"op":"test","path":"/","value":1}]`, `{"":1}`, nil, 0, ""},
		{"spurious members ignored", `{"foo":1}`, `[{"op":"test","path":"/foo","value":1,"spurious":1}]`, `{"foo":1}`, nil, 0, ""},
		{"test sees earlier ops", `{"a":1}`, `[{"op":"replace","path":"/a","value":2},{"op":"test","path":"/a","value":2}]`, `{"a":2}`, nil, 0, ""},
		{"numbers differ in last digit", `{"v":12345678901234567890123456789}`, `[{"op":"test","path":"/v","value":12345678901234567890123456788}]`, "", patch.ErrTestFailed, 0, "operation 0 (test): value at /v is not equal to the expected value"},
		{"number vs float rounding", `{"v":0.1}`, `[{"op":"test","path":"/v","value":0.10000000000000001}]`, "", patch.ErrTestFailed, 0, "not equal"},
		{"array vs object", `{"foo":{"bar":[1,2,5,4]}}`, `[{"op":"test","path":"/foo","value":[1,2]}]`, "", patch.ErrTestFailed, 0, "not equal"},
		{"array order matters", `[1,2]`, `[{"op":"test","path":"","value":[2,1]}]`, "", patch.ErrTestFailed, 0, `value at "" (the whole document) is not equal`},
		{"extra member", `{"a":{"x":1}}`, `[{"op":"test","path":"/a","value":{"x":1,"y":2}}]`, "", patch.ErrTestFailed, 0, "not equal"},
		{"different member", `{"a":{"x":1,"y":2}}`, `[{"op":"test","path":"/a","value":{"x":1,"z":2}}]`, "", patch.ErrTestFailed, 0, "not equal"},
		{"false vs null", `[false]`, `[{"op":"test","path":"/0","value":null}]`, "", patch.ErrTestFailed, 0, "not equal"},
		{"stops later ops", `{"a":1}`, `[{"op":"test","path":"/a","value":2},{"op":"remove","path":"/zzz"}]`, "", patch.ErrTestFailed, 0, "operation 0 (test)"},
		{"missing path", `{"a":1}`, `[{"op":"test","path":"/b","value":1}]`, "", patch.ErrPathNotFound, 0, "operation 0 (test): path /b does not exist"},
		{"missing value", `[null]`, `[{"op":"test","path":"/0"}]`, "", patch.ErrInvalidPatch, 0, `operation 0 (test): missing "value"`},
	})
}

func TestMalformedPatch(t *testing.T) {
	runCases(t, []applyCase{
		{"empty patch", `{"foo": 1, "bar": [ 1 ]}`, `[]`, `{"foo":1,"bar":[1]}`, nil, 0, ""},
		{"not JSON", `{}`, `[{"op":`, "", patch.ErrInvalidPatch, -1, "patch: patch is not valid JSON"},
		{"empty body", `{}`, ``, "", patch.ErrInvalidPatch, -1, "patch is not valid JSON"},
		{"object instead of array", `{}`, `{"op":"add","path":"/a","value":1}`, "", patch.ErrInvalidPatch, -1, "patch must be a JSON array of operations, got an object"},
		{"two documents", `{}`, `[] []`, "", patch.ErrInvalidPatch, -1, "not valid JSON"},
		{"operation not an object", `{}`, `[{"op":"test","path":"","value":{}},"add"]`, "", patch.ErrInvalidPatch, 1, "operation 1: must be a JSON object, got a string"},
		{"missing op", `{}`, `[{"path":"/a","value":1}]`, "", patch.ErrInvalidPatch, 0, `operation 0: missing "op"`},
		{"op not a string", `{}`, `[{"op":1,"path":"/a"}]`, "", patch.ErrInvalidPatch, 0, `"op" must be a string, got a number`},
		{"unknown op", `{"foo":1}`, `[{"op":"spam","path":"/foo","value":1}]`, "", patch.ErrInvalidPatch, 0, `operation 0: unknown op "spam"`},
		{"op is case-sensitive", `{"foo":1}`, `[{"op":"ADD","path":"/foo","value":1}]`, "", patch.ErrInvalidPatch, 0, `unknown op "ADD"`},
		{"member names are case-sensitive", `{"foo":1}`, `[{"OP":"add","path":"/foo","value":1}]`, "", patch.ErrInvalidPatch, 0, `missing "op"`},
		{"path not a string", `{}`, `[{"op":"add","path":null,"value":1}]`, "", patch.ErrInvalidPatch, 0, `"path" must be a string, got null`},
		{"malformed op found before any is applied", `{}`, `[{"op":"remove","path":"/nope"},{"op":"add"}]`, "", patch.ErrInvalidPatch, 1, `operation 1 (add): missing "path"`},
		{"invalid document", `{"a":`, `[]`, "", patch.ErrInvalidDocument, -1, "document is not valid JSON"},
		{"duplicate member on the walked path", `{"a":1,"a":2}`, `[{"op":"replace","path":"/a","value":3}]`, "", patch.ErrInvalidDocument, 0, `the document has member "a" more than once`},
	})
}

// TestKeepsBytes checks that values the patch does not touch keep their
// original bytes and order while the output is compacted.
func TestKeepsBytes(t *testing.T) {
	doc := `{
	  "resourceType" : "Observation",
	  "valueQuantity" : { "value" : 1.50, "unit" : "mmol/L" },
	  "component" : [ { "v" : 1e2 }, { "v" : 100.000 } ],
	  "note" : [ { "text" : "caf\u00e9 \"q\" \/ <b>" } ],
	  "z" : -0.0
	}`
	p := `[{"op":"replace","path":"/valueQuantity/unit","value":"mg/dL"},
	       {"op":"add","path":"/component/-","value":{"v":2.50}}]`
	want := `{"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"mg/dL"},` +
		`"component":[{"v":1e2},{"v":100.000},{"v":2.50}],"note":[{"text":"caf\u00e9 \"q\" \/ <b>"}],"z":-0.0}`
	got, err := patch.Apply([]byte(doc), []byte(p))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Apply result mismatch (-want +got):\n%s", diff)
	}
}

func TestErrorFields(t *testing.T) {
	_, err := patch.Apply([]byte(`{"name":[{"family":"A"}]}`),
		[]byte(`[{"op":"test","path":"/name/0/family","value":"A"},{"op":"move","from":"/name/3","path":"/x"}]`))
	var perr *patch.Error
	if !errors.As(err, &perr) {
		t.Fatalf("Apply error = %v, want a *patch.Error", err)
	}
	want := patch.Error{
		Op:   1,
		Name: "move",
		Path: "/name/3",
		Msg:  "path /name/3 does not exist: index 3 is out of range, /name has 1 element",
		Err:  patch.ErrPathNotFound,
	}
	if diff := cmp.Diff(want, *perr, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("Error mismatch (-want +got):\n%s", diff)
	}
	if perr.TestFailed() {
		t.Errorf("TestFailed() = true for a missing path")
	}

	_, err = patch.Apply([]byte(`{"a":1}`), []byte(`[{"op":"test","path":"/a","value":2}]`))
	if !errors.As(err, &perr) || !perr.TestFailed() || perr.Path != "/a" || perr.Op != 0 {
		t.Errorf("failed test: got %#v, want TestFailed at operation 0, path /a", err)
	}
}

// TestMessagesLeakNoValues: error messages may name locations from the
// patch but never values from the document or the patch, which may be PHI.
func TestMessagesLeakNoValues(t *testing.T) {
	const secret = "Chalmers-SECRET"
	doc := `{"name":[{"family":"` + secret + `"}],"birthDate":"` + secret + `"}`
	for _, p := range []string{
		`[{"op":"test","path":"/name/0/family","value":"x` + secret + `"}]`,
		`[{"op":"test","path":"/name","value":[{"family":"` + secret + `x"}]}]`,
		`[{"op":"replace","path":"/birthDate/x","value":"` + secret + `"}]`,
		`[{"op":"add","path":"/name/7","value":"` + secret + `"}]`,
	} {
		_, err := patch.Apply([]byte(doc), []byte(p))
		if err == nil {
			t.Fatalf("Apply(%s) succeeded, want an error", p)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q leaks a value", err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	// Each copy of the whole document doubles it: 2 KiB * 2^16 > 64 MiB.
	doc := `{"x":"` + strings.Repeat("a", 2048) + `"}`
	var ops []string
	for i := 0; i < 20; i++ {
		ops = append(ops, `{"op":"copy","from":"","path":"/c`+strings.Repeat("c", i)+`"}`)
	}
	_, err := patch.Apply([]byte(doc), []byte("["+strings.Join(ops, ",")+"]"))
	if !errors.Is(err, patch.ErrTooLarge) {
		t.Fatalf("Apply = %v, want ErrTooLarge", err)
	}
}

func TestOutputIsValidCompactJSON(t *testing.T) {
	got, err := patch.Apply([]byte(" [ 1 , { \"a\" : [ ] } ] \n"), []byte(`[{"op":"add","path":"/1/a/-","value":{ "b" : [ 1, 2 ] }}]`))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, got); err != nil {
		t.Fatalf("output %q is not valid JSON: %v", got, err)
	}
	if buf.String() != string(got) {
		t.Errorf("output %q is not compact", got)
	}
}
