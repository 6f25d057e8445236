package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// node is one JSON value of the document being patched. It starts as its
// compact original bytes and is split into members or elements only when a
// pointer walks through it, so everything a patch does not touch is written
// back byte for byte.
type node struct {
	kind     byte   // first byte of the value: '{', '[', '"', 't', 'f', 'n', or a number's first byte
	raw      []byte // compact JSON; the value while !expanded
	expanded bool
	members  []member // expanded object, in document order
	elems    []*node  // expanded array
}

// member is one name/value pair of an object.
type member struct {
	rawKey []byte // the name as written in the document, quotes included
	key    string // the decoded name
	val    *node
}

// newNode wraps raw, which must be compact, valid JSON.
func newNode(raw []byte) *node { return &node{kind: raw[0], raw: raw} }

func (n *node) isObject() bool { return n.kind == '{' }
func (n *node) isArray() bool  { return n.kind == '[' }

// kindName names the JSON type of n for messages.
func (n *node) kindName() string {
	switch n.kind {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// duplicateError reports an object with the same member name twice, which
// makes a pointer through it ambiguous.
type duplicateError struct{ key string }

func (e *duplicateError) Error() string { return fmt.Sprintf("duplicate member %q", e.key) }

// expand splits an object or array into its parts. It is a no-op for
// scalars and for nodes already expanded.
func (n *node) expand() error {
	if n.expanded || (n.kind != '{' && n.kind != '[') {
		return nil
	}
	b := n.raw
	i := 1
	if n.kind == '{' {
		var ms []member
		seen := make(map[string]struct{})
		for b[i] != '}' {
			kEnd := skipString(b, i)
			rawKey := b[i:kEnd]
			key := decodeString(rawKey)
			if _, dup := seen[key]; dup {
				return &duplicateError{key: key}
			}
			seen[key] = struct{}{}
			vStart := kEnd + 1 // skip ':'
			vEnd := skipValue(b, vStart)
			ms = append(ms, member{rawKey: rawKey, key: key, val: newNode(b[vStart:vEnd])})
			i = vEnd
			if b[i] == ',' {
				i++
			}
		}
		n.members = ms
	} else {
		var es []*node
		for b[i] != ']' {
			end := skipValue(b, i)
			es = append(es, newNode(b[i:end]))
			i = end
			if b[i] == ',' {
				i++
			}
		}
		n.elems = es
	}
	n.expanded = true
	n.raw = nil
	return nil
}

// find returns the index of the member named key, or -1.
func (n *node) find(key string) int {
	for i := range n.members {
		if n.members[i].key == key {
			return i
		}
	}
	return -1
}

// appendTo appends the compact JSON of n to buf.
func (n *node) appendTo(buf []byte) []byte {
	if !n.expanded {
		return append(buf, n.raw...)
	}
	if n.kind == '{' {
		buf = append(buf, '{')
		for i, m := range n.members {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, m.rawKey...)
			buf = append(buf, ':')
			buf = m.val.appendTo(buf)
		}
		return append(buf, '}')
	}
	buf = append(buf, '[')
	for i, e := range n.elems {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = e.appendTo(buf)
	}
	return append(buf, ']')
}

// bytes returns the compact JSON of n.
func (n *node) bytes() []byte {
	if !n.expanded {
		return n.raw
	}
	return n.appendTo(nil)
}

// The scanners below work on compact JSON already checked by json.Compact,
// so they only find boundaries and never validate.

// skipValue returns the offset just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default:
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i
	}
}

// skipString returns the offset just past the string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// decodeString decodes a JSON string literal (quotes included).
func decodeString(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	// raw was validated by json.Compact, so this cannot fail.
	_ = json.Unmarshal(raw, &s)
	return s
}

// encodeString encodes s as a JSON string literal without HTML escaping.
func encodeString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}
