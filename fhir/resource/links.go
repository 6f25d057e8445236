package resource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// LinkKind says where a link that RewriteLinks offers stands.
type LinkKind int

// The kinds of link.
const (
	// LinkReference is a Reference.reference.
	LinkReference LinkKind = iota
	// LinkURI is the value of an element of type uri, url, oid or uuid
	// (Attachment.url, Extension.valueUri, ...). Canonicals are not links
	// in this sense and are never offered.
	LinkURI
	// LinkNarrative is the href of an <a> or the src of an <img> in a
	// narrative (Narrative.div).
	LinkNarrative
)

// Rewriter decides the replacement of one link: (replacement, true) to
// replace it, ("", false) to keep it.
type Rewriter func(kind LinkKind, link string) (string, bool)

// RewriteLinks walks the resource body with its R4 type information and
// offers every link to rewrite: each Reference.reference, each element of
// type uri, url, oid or uuid, and each href and src attribute in narrative
// divs, in the resource itself and in every resource inside it (contained,
// Bundle.entry.resource, Parameters.parameter.resource), extensions
// included. These are the places the FHIR transaction rules replace the
// fullUrls of a Bundle's entries in.
//
// Only the replaced strings change; every other byte stays as it was. When
// nothing is replaced, body itself is returned. body must be a JSON object
// with a known resourceType; anything else, malformed JSON included, is an
// error (Parse says precisely what is wrong).
func RewriteLinks(body []byte, rewrite Rewriter) ([]byte, error) {
	w := linkWalker{b: body, rewrite: rewrite}
	w.skipSpace()
	if w.i >= len(w.b) || w.b[w.i] != '{' {
		return nil, errors.New("a resource must be a JSON object")
	}
	if err := w.resource(0); err != nil {
		return nil, err
	}
	w.skipSpace()
	if w.i != len(w.b) {
		return nil, w.errorf("unexpected data after the resource")
	}
	if w.out == nil {
		return body, nil
	}
	return append(w.out, w.b[w.last:]...), nil
}

// Message names of the link-bearing types.
const (
	referenceName protoreflect.FullName = "google.fhir.r4.core.Reference"
	xhtmlName     protoreflect.FullName = "google.fhir.r4.core.Xhtml"
)

var uriTypes = map[protoreflect.FullName]bool{
	"google.fhir.r4.core.Uri":  true,
	"google.fhir.r4.core.Url":  true,
	"google.fhir.r4.core.Oid":  true,
	"google.fhir.r4.core.Uuid": true,
}

// linkWalker is one pass of RewriteLinks over b: a recursive descent that
// knows, for each value, its FHIR type.
type linkWalker struct {
	b       []byte
	i       int
	rewrite Rewriter
	out     []byte // nil until the first replacement
	last    int    // b[:last] is in out
}

func (w *linkWalker) errorf(format string, args ...any) error {
	return fmt.Errorf("resource: at byte %d: %s", w.i, fmt.Sprintf(format, args...))
}

func (w *linkWalker) skipSpace() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// resource walks the object at w.i as a resource of the type its
// resourceType names.
func (w *linkWalker) resource(depth int) error {
	typ, err := w.peekResourceType()
	if err != nil {
		return err
	}
	md := typeDescs[typ]
	if md == nil {
		return w.errorf("unknown resource type %s", quoteName(typ))
	}
	return w.object(md, depth)
}

// peekResourceType finds the resourceType of the object at w.i without
// moving.
func (w *linkWalker) peekResourceType() (string, error) {
	save := w.i
	defer func() { w.i = save }()
	w.i++ // {
	for {
		w.skipSpace()
		if w.i < len(w.b) && w.b[w.i] == '}' {
			return "", w.errorf("the resource has no resourceType")
		}
		key, err := w.str()
		if err != nil {
			return "", err
		}
		if err := w.colon(); err != nil {
			return "", err
		}
		if key == "resourceType" {
			w.skipSpace()
			if w.i >= len(w.b) || w.b[w.i] != '"' {
				return "", w.errorf("resourceType must be a string")
			}
			return w.str()
		}
		if err := w.skip(0); err != nil {
			return "", err
		}
		if more, err := w.comma('}'); err != nil || !more {
			if err == nil {
				err = w.errorf("the resource has no resourceType")
			}
			return "", err
		}
	}
}

// object walks the object at w.i as an element of type md.
func (w *linkWalker) object(md protoreflect.MessageDescriptor, depth int) error {
	if depth > MaxDepth {
		return w.errorf("nested deeper than %d levels", MaxDepth)
	}
	w.i++ // {
	fields := fieldTable(md)
	isRef := md.FullName() == referenceName
	w.skipSpace()
	if w.i < len(w.b) && w.b[w.i] == '}' {
		w.i++
		return nil
	}
	for {
		w.skipSpace()
		key, err := w.str()
		if err != nil {
			return err
		}
		if err := w.colon(); err != nil {
			return err
		}
		w.skipSpace()
		if isRef && key == "reference" {
			err = w.link(LinkReference)
		} else if f, ok := fields[key]; ok {
			err = w.field(f, depth)
		} else {
			err = w.skip(depth)
		}
		if err != nil {
			return err
		}
		more, err := w.comma('}')
		if err != nil || !more {
			return err
		}
	}
}

// field walks the value of a known property: an array of them when
// repeated.
func (w *linkWalker) field(f fieldInfo, depth int) error {
	if w.i < len(w.b) && w.b[w.i] == '[' && f.repeated {
		w.i++
		w.skipSpace()
		if w.i < len(w.b) && w.b[w.i] == ']' {
			w.i++
			return nil
		}
		for {
			w.skipSpace()
			if err := w.single(f, depth+1); err != nil {
				return err
			}
			more, err := w.comma(']')
			if err != nil || !more {
				return err
			}
		}
	}
	return w.single(f, depth)
}

func (w *linkWalker) single(f fieldInfo, depth int) error {
	if w.i >= len(w.b) {
		return w.errorf("unexpected end of JSON")
	}
	c := w.b[w.i]
	switch {
	case f.resource && c == '{':
		return w.resource(depth + 1)
	case f.msg == nil:
		return w.skip(depth)
	case f.primitive && c == '"':
		switch name := f.msg.FullName(); {
		case uriTypes[name]:
			return w.link(LinkURI)
		case name == xhtmlName:
			return w.narrative()
		}
		return w.skip(depth)
	case c == '{':
		// A complex element, or the "_x" extensions of a primitive.
		return w.object(f.msg, depth+1)
	}
	return w.skip(depth)
}

// link offers the string at w.i (any other value is skipped) and replaces
// it when asked.
func (w *linkWalker) link(kind LinkKind) error {
	if w.i >= len(w.b) || w.b[w.i] != '"' {
		return w.skip(0)
	}
	start := w.i
	s, err := w.str()
	if err != nil {
		return err
	}
	if repl, ok := w.rewrite(kind, s); ok && repl != s {
		w.replace(start, w.i, appendJSONString(nil, repl))
	}
	return nil
}

// narrative offers the href and src attributes of the XHTML string at w.i.
func (w *linkWalker) narrative() error {
	start := w.i
	s, err := w.str()
	if err != nil {
		return err
	}
	if !strings.Contains(s, "href") && !strings.Contains(s, "src") {
		return nil
	}
	if div, changed := rewriteXHTML(s, w.rewrite); changed {
		w.replace(start, w.i, appendJSONString(nil, div))
	}
	return nil
}

// replace puts repl in place of b[start:end] in the output.
func (w *linkWalker) replace(start, end int, repl []byte) {
	if w.out == nil {
		w.out = make([]byte, 0, len(w.b)+64)
	}
	w.out = append(w.out, w.b[w.last:start]...)
	w.out = append(w.out, repl...)
	w.last = end
}

// rewriteXHTML offers the values of href and src attributes in div.
func rewriteXHTML(div string, rewrite Rewriter) (string, bool) {
	var sb strings.Builder
	last, changed := 0, false
	for i := 0; i < len(div); i++ {
		var name string
		switch {
		case strings.HasPrefix(div[i:], "href"):
			name = "href"
		case strings.HasPrefix(div[i:], "src"):
			name = "src"
		default:
			continue
		}
		if i == 0 || !isXMLSpace(div[i-1]) {
			continue
		}
		j := i + len(name)
		for j < len(div) && isXMLSpace(div[j]) {
			j++
		}
		if j >= len(div) || div[j] != '=' {
			continue
		}
		j++
		for j < len(div) && isXMLSpace(div[j]) {
			j++
		}
		if j >= len(div) || (div[j] != '"' && div[j] != '\'') {
			continue
		}
		q := div[j]
		end := strings.IndexByte(div[j+1:], q)
		if end < 0 {
			break
		}
		vs, ve := j+1, j+1+end
		val := xmlUnescape(div[vs:ve])
		if repl, ok := rewrite(LinkNarrative, val); ok && repl != val {
			sb.WriteString(div[last:vs])
			sb.WriteString(xmlEscape(repl))
			last, changed = ve, true
		}
		i = ve
	}
	if !changed {
		return div, false
	}
	sb.WriteString(div[last:])
	return sb.String(), true
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

var (
	xmlUnescaper = strings.NewReplacer("&amp;", "&", "&quot;", `"`, "&apos;", "'", "&lt;", "<", "&gt;", ">")
	xmlEscaper   = strings.NewReplacer("&", "&amp;", `"`, "&quot;", "'", "&apos;", "<", "&lt;", ">", "&gt;")
)

func xmlUnescape(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	return xmlUnescaper.Replace(s)
}

func xmlEscape(s string) string { return xmlEscaper.Replace(s) }

// colon consumes the ':' after a property name.
func (w *linkWalker) colon() error {
	w.skipSpace()
	if w.i >= len(w.b) || w.b[w.i] != ':' {
		return w.errorf("expected ':'")
	}
	w.i++
	return nil
}

// comma consumes the ',' between members or elements (more is true), or
// the closing byte (more is false).
func (w *linkWalker) comma(closing byte) (more bool, err error) {
	w.skipSpace()
	if w.i >= len(w.b) {
		return false, w.errorf("unexpected end of JSON")
	}
	switch w.b[w.i] {
	case ',':
		w.i++
		return true, nil
	case closing:
		w.i++
		return false, nil
	}
	return false, w.errorf("expected ',' or '%c'", closing)
}

// str reads the JSON string at w.i and returns its value.
func (w *linkWalker) str() (string, error) {
	if w.i >= len(w.b) || w.b[w.i] != '"' {
		return "", w.errorf("expected a string")
	}
	start := w.i
	escaped := false
	for j := w.i + 1; j < len(w.b); j++ {
		switch c := w.b[j]; {
		case c == '"':
			w.i = j + 1
			raw := w.b[start:w.i]
			if !escaped {
				if !utf8.Valid(raw) {
					return "", w.errorf("invalid UTF-8 in a string")
				}
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", w.errorf("invalid string: %v", err)
			}
			return s, nil
		case c == '\\':
			escaped = true
			j++
		case c < 0x20:
			return "", w.errorf("control character in a string")
		}
	}
	return "", w.errorf("unterminated string")
}

// skip moves past the value at w.i, checking its syntax.
func (w *linkWalker) skip(depth int) error {
	if depth > MaxDepth {
		return w.errorf("nested deeper than %d levels", MaxDepth)
	}
	w.skipSpace()
	if w.i >= len(w.b) {
		return w.errorf("unexpected end of JSON")
	}
	switch c := w.b[w.i]; c {
	case '"':
		_, err := w.str()
		return err
	case '{', '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		w.i++
		w.skipSpace()
		if w.i < len(w.b) && w.b[w.i] == closing {
			w.i++
			return nil
		}
		for {
			w.skipSpace()
			if c == '{' {
				if _, err := w.str(); err != nil {
					return err
				}
				if err := w.colon(); err != nil {
					return err
				}
			}
			if err := w.skip(depth + 1); err != nil {
				return err
			}
			more, err := w.comma(closing)
			if err != nil || !more {
				return err
			}
		}
	case 't':
		return w.literal("true")
	case 'f':
		return w.literal("false")
	case 'n':
		return w.literal("null")
	}
	return w.number()
}

func (w *linkWalker) literal(lit string) error {
	if !bytes.HasPrefix(w.b[w.i:], []byte(lit)) {
		return w.errorf("invalid literal")
	}
	w.i += len(lit)
	return nil
}

func (w *linkWalker) number() error {
	start := w.i
	for w.i < len(w.b) && isNumberByte(w.b[w.i]) {
		w.i++
	}
	if w.i == start || !json.Valid(w.b[start:w.i]) {
		return w.errorf("invalid value")
	}
	return nil
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// appendJSONString appends s as a JSON string, escaping only what JSON
// requires (quotes, backslashes, control characters): a narrative's < and
// > stay as they are.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
