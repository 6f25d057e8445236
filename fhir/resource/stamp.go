package resource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir/outcome"
)

// InstantLayout is the layout of the meta.lastUpdated Stamp writes: a FHIR
// instant in UTC with millisecond precision.
const InstantLayout = "2006-01-02T15:04:05.000Z"

// Stamp returns body as compact JSON with the server-set fields set: id,
// meta.versionId and meta.lastUpdated. Nothing else changes: the top-level
// members keep the client's order and bytes (numbers such as 1.50 and
// strings are copied as they are, only insignificant whitespace goes), and
// meta keeps its other members (profile, tag, security, source, extension…)
// in their order.
//
// An existing id is replaced in place; otherwise id is inserted right after
// resourceType. An existing meta.versionId or meta.lastUpdated is replaced
// in place; missing ones are inserted at the start of meta, and a missing
// meta is inserted right after id. lastUpdated is written in UTC with
// millisecond precision (see InstantLayout).
//
// body must be a JSON object with a resourceType (Parse checks more); id
// must be a ValidID and versionID at least 1.
func Stamp(body []byte, id string, versionID int64, lastUpdated time.Time) ([]byte, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("resource.Stamp: invalid id %q", id)
	}
	if versionID < 1 {
		return nil, fmt.Errorf("resource.Stamp: invalid version id %d", versionID)
	}
	lu := lastUpdated.UTC()
	if y := lu.Year(); lastUpdated.IsZero() || y < 1 || y > 9999 {
		return nil, fmt.Errorf("resource.Stamp: lastUpdated %v out of range", lastUpdated)
	}

	s := getScanner(body, true)
	defer putScanner(s)
	if !s.run() {
		return nil, structureError(body, s.fail)
	}
	if !s.rootObj {
		return nil, outcome.New(outcome.KindInvalid, "a resource must be a JSON object")
	}
	var hasType, hasID, hasMeta bool
	for _, m := range s.root {
		switch {
		case s.keyIs(m.key, "resourceType"):
			hasType = true
		case s.keyIs(m.key, "id"):
			hasID = true
		case s.keyIs(m.key, "meta"):
			hasMeta = true
			if body[m.val.start] != '{' {
				return nil, outcome.Invalid("meta", "meta must be a JSON object")
			}
		}
	}
	if !hasType {
		return nil, outcome.New(outcome.KindInvalid, "the resource has no resourceType")
	}

	vid := strconv.FormatInt(versionID, 10)
	ts := lu.Format(InstantLayout)
	out := make([]byte, 0, len(body)+len(`,"id":"","meta":{"versionId":"","lastUpdated":""}`)+len(id)+len(vid)+len(ts))
	out = append(out, '{')
	idMember := func(out []byte) []byte {
		out = append(out, `"id":"`...)
		out = append(out, id...)
		out = append(out, '"')
		if !hasMeta {
			out = append(out, `,"meta":{"versionId":"`...)
			out = append(out, vid...)
			out = append(out, `","lastUpdated":"`...)
			out = append(out, ts...)
			out = append(out, `"}`...)
		}
		return out
	}
	for i, m := range s.root {
		if i > 0 {
			out = append(out, ',')
		}
		switch {
		case s.keyIs(m.key, "id"):
			out = idMember(out)
		case s.keyIs(m.key, "meta"):
			out = append(out, `"meta":`...)
			out = s.stampMeta(out, vid, ts)
		default:
			out = append(out, body[m.key.start-1:m.key.end+1]...)
			out = append(out, ':')
			out = appendCompact(out, body[m.val.start:m.val.end])
			if !hasID && s.keyIs(m.key, "resourceType") {
				out = append(out, ',')
				out = idMember(out)
			}
		}
	}
	return append(out, '}'), nil
}

// stampMeta appends the root's meta object with versionId and lastUpdated
// set.
func (s *scanner) stampMeta(out []byte, vid, ts string) []byte {
	var hasVID, hasLU bool
	for _, m := range s.meta {
		hasVID = hasVID || s.keyIs(m.key, "versionId")
		hasLU = hasLU || s.keyIs(m.key, "lastUpdated")
	}
	out = append(out, '{')
	n := 0
	sep := func() {
		if n > 0 {
			out = append(out, ',')
		}
		n++
	}
	if !hasVID {
		sep()
		out = append(out, `"versionId":"`...)
		out = append(out, vid...)
		out = append(out, '"')
	}
	if !hasLU {
		sep()
		out = append(out, `"lastUpdated":"`...)
		out = append(out, ts...)
		out = append(out, '"')
	}
	for _, m := range s.meta {
		sep()
		switch {
		case s.keyIs(m.key, "versionId"):
			out = append(out, `"versionId":"`...)
			out = append(out, vid...)
			out = append(out, '"')
		case s.keyIs(m.key, "lastUpdated"):
			out = append(out, `"lastUpdated":"`...)
			out = append(out, ts...)
			out = append(out, '"')
		default:
			out = append(out, s.b[m.key.start-1:m.key.end+1]...)
			out = append(out, ':')
			out = appendCompact(out, s.b[m.val.start:m.val.end])
		}
	}
	return append(out, '}')
}

// appendCompact appends the valid JSON src to dst without insignificant
// whitespace.
func appendCompact(dst, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); {
		switch src[i] {
		case '"':
			// Skip the string: find its closing quote, one not escaped by
			// an odd run of backslashes.
			i++
			for {
				j := bytes.IndexByte(src[i:], '"')
				if j < 0 {
					return append(dst, src[start:]...) // not valid JSON
				}
				i += j
				n := 0
				for k := i - 1; src[k] == '\\'; k-- {
					n++
				}
				i++
				if n%2 == 0 {
					break
				}
			}
		case ' ', '\t', '\n', '\r':
			dst = append(dst, src[start:i]...)
			for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
				i++
			}
			start = i
		default:
			i++
		}
	}
	return append(dst, src[start:]...)
}

// Meta returns the meta.versionId and meta.lastUpdated of body as written
// (empty when absent, not strings, or body is not valid JSON).
func Meta(body []byte) (versionID, lastUpdated string) {
	s := getScanner(body, true)
	defer putScanner(s)
	if !s.run() {
		return "", ""
	}
	for _, m := range s.meta {
		if body[m.val.start] != '"' {
			continue
		}
		esc := bytes.IndexByte(body[m.val.start:m.val.end], '\\') >= 0
		switch {
		case s.keyIs(m.key, "versionId"):
			versionID = s.unquote(m.val, esc)
		case s.keyIs(m.key, "lastUpdated"):
			lastUpdated = s.unquote(m.val, esc)
		}
	}
	return versionID, lastUpdated
}

// DiffIgnoringMeta compares two resources as JSON values, ignoring
// meta.versionId and meta.lastUpdated (and meta itself when nothing else is
// in it). Numbers compare by their text, so 1.50 and 1.5 differ. It returns
// "" when they are equal, and a human-readable diff (-a +b) otherwise.
func DiffIgnoringMeta(a, b []byte) (string, error) {
	va, err := decodeWithoutMeta(a)
	if err != nil {
		return "", fmt.Errorf("first resource: %w", err)
	}
	vb, err := decodeWithoutMeta(b)
	if err != nil {
		return "", fmt.Errorf("second resource: %w", err)
	}
	if reflect.DeepEqual(va, vb) {
		return "", nil
	}
	return cmp.Diff(va, vb), nil
}

// EqualIgnoringMeta reports whether DiffIgnoringMeta finds a and b equal.
// Invalid JSON is equal to nothing.
func EqualIgnoringMeta(a, b []byte) bool {
	d, err := DiffIgnoringMeta(a, b)
	return err == nil && d == ""
}

func decodeWithoutMeta(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	if obj, ok := v.(map[string]any); ok {
		if meta, ok := obj["meta"].(map[string]any); ok {
			delete(meta, "versionId")
			delete(meta, "lastUpdated")
			if len(meta) == 0 {
				delete(obj, "meta")
			}
		}
	}
	return v, nil
}
