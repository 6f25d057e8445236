package resource

import (
	"errors"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/telefhir/telefhir/internal/jsonscan"
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
	w := linkWalker{Scanner: jsonscan.Scanner{B: body}, rewrite: rewrite}
	if w.Peek() != '{' {
		return nil, errors.New("a resource must be a JSON object")
	}
	if err := w.resource(0); err != nil {
		return nil, err
	}
	if err := w.End(); err != nil {
		return nil, err
	}
	if w.out == nil {
		return body, nil
	}
	return append(w.out, w.B[w.last:]...), nil
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

// linkWalker is one pass of RewriteLinks: a recursive descent that knows,
// for each value, its FHIR type.
type linkWalker struct {
	jsonscan.Scanner
	rewrite Rewriter
	out     []byte // nil until the first replacement
	last    int    // B[:last] is in out
}

// resource walks the object at the scanner as a resource of the type its
// resourceType names.
func (w *linkWalker) resource(depth int) error {
	typ, err := w.peekResourceType()
	if err != nil {
		return err
	}
	md := typeDescs[typ]
	if md == nil {
		return w.Errorf("unknown resource type %s", quoteName(typ))
	}
	return w.object(md, depth)
}

// errFound ends peekResourceType's walk early.
var errFound = errors.New("found")

// peekResourceType finds the resourceType of the object at the scanner
// without moving.
func (w *linkWalker) peekResourceType() (string, error) {
	save := w.I
	defer func() { w.I = save }()
	var typ string
	err := w.ObjectBytes(0, func(name []byte) error {
		if string(name) != "resourceType" {
			return w.Skip(1)
		}
		if w.Peek() != '"' {
			return w.Errorf("resourceType must be a string")
		}
		var err error
		if typ, err = w.String(); err == nil {
			err = errFound
		}
		return err
	})
	switch {
	case err == errFound:
		return typ, nil
	case err == nil:
		return "", w.Errorf("the resource has no resourceType")
	}
	return "", err
}

// object walks the object at the scanner as an element of type md.
func (w *linkWalker) object(md protoreflect.MessageDescriptor, depth int) error {
	fields := fieldTable(md)
	isRef := md.FullName() == referenceName
	return w.ObjectBytes(depth, func(key []byte) error {
		if isRef && string(key) == "reference" {
			return w.link(LinkReference)
		}
		if f, ok := fields[string(key)]; ok {
			return w.field(f, depth+1)
		}
		return w.Skip(depth + 1)
	})
}

// field walks the value of a known property: an array of them when
// repeated.
func (w *linkWalker) field(f fieldInfo, depth int) error {
	if f.repeated && w.Peek() == '[' {
		return w.Array(depth, func(int) error { return w.single(f, depth+1) })
	}
	return w.single(f, depth)
}

func (w *linkWalker) single(f fieldInfo, depth int) error {
	switch c := w.Peek(); {
	case f.resource && c == '{':
		return w.resource(depth)
	case f.msg == nil:
	case f.primitive && c == '"':
		switch name := f.msg.FullName(); {
		case uriTypes[name]:
			return w.link(LinkURI)
		case name == xhtmlName:
			return w.narrative()
		}
	case c == '{':
		// A complex element, or the "_x" extensions of a primitive.
		return w.object(f.msg, depth)
	}
	return w.Skip(depth)
}

// link offers the string at the scanner (any other value is skipped) and
// replaces it when asked.
func (w *linkWalker) link(kind LinkKind) error {
	if w.Peek() != '"' {
		return w.Skip(0)
	}
	start := w.I
	s, err := w.String()
	if err != nil {
		return err
	}
	if repl, ok := w.rewrite(kind, s); ok && repl != s {
		w.replace(start, w.I, appendJSONString(nil, repl))
	}
	return nil
}

// narrative offers the href and src attributes of the XHTML string at the
// scanner.
func (w *linkWalker) narrative() error {
	start := w.I
	s, err := w.String()
	if err != nil {
		return err
	}
	if !strings.Contains(s, "href") && !strings.Contains(s, "src") {
		return nil
	}
	if div, changed := rewriteXHTML(s, w.rewrite); changed {
		w.replace(start, w.I, appendJSONString(nil, div))
	}
	return nil
}

// replace puts repl in place of b[start:end] in the output.
func (w *linkWalker) replace(start, end int, repl []byte) {
	if w.out == nil {
		w.out = make([]byte, 0, len(w.B)+64)
	}
	w.out = append(w.out, w.B[w.last:start]...)
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
