package resource

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// MaxDepth is the deepest nesting of JSON objects and arrays a resource may
// have. The deepest official R4 example nests 22 levels.
const MaxDepth = 100

// dupMapThreshold is the number of members after which duplicate property
// names are found with a map instead of a linear scan.
const dupMapThreshold = 32

// scanner makes one pass over JSON bytes and
//   - checks RFC 8259 syntax (and UTF-8), stopping at the first error with
//     its byte offset;
//   - bounds the nesting depth and rejects duplicate property names;
//   - finds every object that carries "resourceType" (the root and any
//     inline resource), with its location;
//   - finds nulls: FHIR allows them only inside primitive arrays, paired
//     with a non-null entry at the same index of the "_x" sibling array.
//     Every such null is queued for replacement by {} (see parse.go), and
//     unpaired ones are reported;
//   - flags property names that start with an upper-case letter (JSON
//     property names are case-sensitive; the library lower-cases them);
//   - optionally records the root's members and its meta's members, for
//     Stamp and Meta.
//
// A scanner is reused through scanners; reset clears it.
type scanner struct {
	b       []byte
	i       int
	depth   int
	members bool // record root and meta members

	fail *scanError

	frames  []frame     // path from the root to the current value
	keys    []keyRef    // property names of the open objects
	arrs    []arrMember // array members of the open objects
	nulls   []nullRef   // null elements of those arrays
	recs    []record    // objects with a resourceType, in post-order
	edits   []edit      // nulls to replace
	issues  []scanIssue
	dropped int // issues beyond maxScanIssues

	root    []member // root members, if members
	meta    []member // root meta members, if members
	inMeta  bool     // scanning the root's meta value
	rootObj bool     // the root value is an object
	idVal   span     // root "id" string value (with quotes), if any
	idEsc   bool
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

func getScanner(b []byte, members bool) *scanner {
	s := scanners.Get().(*scanner)
	s.b, s.i, s.depth, s.members, s.fail = b, 0, 0, members, nil
	s.frames, s.keys, s.arrs, s.nulls = s.frames[:0], s.keys[:0], s.arrs[:0], s.nulls[:0]
	s.recs, s.edits, s.issues, s.dropped = s.recs[:0], s.edits[:0], s.issues[:0], 0
	s.root, s.meta, s.inMeta, s.rootObj = s.root[:0], s.meta[:0], false, false
	s.idVal, s.idEsc = span{}, false
	return s
}

func putScanner(s *scanner) {
	if cap(s.recs) > 4096 || cap(s.frames) > 1024 || cap(s.keys) > 4096 {
		return // let an unusually large one go
	}
	s.b = nil
	scanners.Put(s)
}

type span struct{ start, end int }

type kind uint8

const (
	kindNone kind = iota
	kindNull
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

type scanError struct {
	off int
	msg string
}

// frame is one step of the path to the current value: an object member
// (idx < 0) or an array element.
type frame struct {
	key keyRef
	idx int
}

// keyRef is a property name: its bytes between the quotes.
type keyRef struct {
	span
	esc bool // contains escapes, so must be decoded before comparing
}

type arrMember struct {
	key        keyRef
	n          int // number of elements
	nullsStart int // range into scanner.nulls
	nullsEnd   int
}

type nullRef struct{ idx, off int }

// record is an object that has a resourceType member.
type record struct {
	span
	typ   string // the resourceType, decoded
	typOK bool   // resourceType is a JSON string
	path  string // location below the root resource: "" for the root, ".entry[0].resource"
}

type edit struct {
	span
	repl string
}

type scanIssue struct {
	path string // below the root resource, like record.path
	msg  string
}

type member struct {
	key keyRef
	val span
}

func (s *scanner) failf(off int, format string, args ...any) bool {
	if s.fail == nil {
		s.fail = &scanError{off: off, msg: fmt.Sprintf(format, args...)}
	}
	return false
}

// run scans the whole input. It returns false if the input is not valid
// JSON (s.fail says why).
func (s *scanner) run() bool {
	s.skipWS()
	if s.i >= len(s.b) {
		return s.failf(s.i, "unexpected end of JSON input")
	}
	s.rootObj = s.b[s.i] == '{'
	if _, ok := s.value(false, fieldInfo{}, false); !ok {
		return false
	}
	s.skipWS()
	if s.i < len(s.b) {
		return s.failf(s.i, "unexpected %s after the top-level value", quoteChar(s.b[s.i]))
	}
	return true
}

func (s *scanner) skipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value. member says the value is an object member's
// (which matters for arrays: see array). If known, fi describes the property
// whose value it is.
func (s *scanner) value(member bool, fi fieldInfo, known bool) (kind, bool) {
	if s.i >= len(s.b) {
		return kindNone, s.failf(s.i, "unexpected end of JSON input")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if !known {
			return kindObject, s.object(nil, s.depth == 0)
		}
		switch {
		case fi.resource:
			return kindObject, s.object(nil, true)
		case fi.primitive:
			return kindObject, s.notPrimitive("an object", func() bool { return s.object(nil, false) })
		}
		return kindObject, s.object(fi.msg, false)
	case c == '[':
		if known && member && fi.primitive && !fi.repeated {
			return kindArray, s.notPrimitive("an array", func() bool { return s.array(member, fieldInfo{}, false) })
		}
		return kindArray, s.array(member, fi, known && member && fi.repeated)
	case c == '"':
		_, ok := s.str()
		return kindString, ok
	case c == 't':
		return kindBool, s.literal("true")
	case c == 'f':
		return kindBool, s.literal("false")
	case c == 'n':
		return kindNull, s.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return kindNumber, s.number()
	default:
		return kindNone, s.failf(s.i, "invalid character %s looking for the beginning of a value", quoteChar(c))
	}
}

// notPrimitive scans, with scan, an object or array where a primitive's
// value belongs. The library would take an object there for the "_x"
// extension holder and store it as such, which is not FHIR JSON; so it is
// reported here and hidden from the library.
func (s *scanner) notPrimitive(what string, scan func() bool) bool {
	start := s.i
	name := ""
	if n := len(s.frames); n > 0 {
		f := s.frames[n-1]
		if f.idx >= 0 && n > 1 {
			f = s.frames[n-2]
		}
		name = shortKey(s.keyString(f.key))
	}
	s.issue(s.path(), "a primitive value must be a JSON string, number or boolean, not "+what+
		" (extensions of a primitive go in _"+name+")")
	if !scan() {
		return false
	}
	s.edits = append(s.edits, edit{span{start, s.i}, "{}"})
	return true
}

func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return s.failf(s.i, "invalid literal (expected %s)", lit)
	}
	s.i += len(lit)
	return true
}

func (s *scanner) number() bool {
	start := s.i
	b := s.b
	if b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(b) && b[s.i] == '0':
		s.i++
	case s.i < len(b) && '1' <= b[s.i] && b[s.i] <= '9':
		for s.i < len(b) && '0' <= b[s.i] && b[s.i] <= '9' {
			s.i++
		}
	default:
		return s.failf(s.i, "invalid number: expected a digit")
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		d := s.i
		for s.i < len(b) && '0' <= b[s.i] && b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return s.failf(s.i, "invalid number: expected a digit after the decimal point")
		}
	}
	exp := false
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		exp = true
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		d := s.i
		for s.i < len(b) && '0' <= b[s.i] && b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return s.failf(s.i, "invalid number: expected a digit in the exponent")
		}
	}
	if exp || s.i-start > 300 {
		// Numbers that do not fit a float64 are valid JSON, but no FHIR
		// type holds them and the library's decoder rejects the document.
		if _, err := strconv.ParseFloat(string(b[start:s.i]), 64); err != nil {
			return s.failf(start, "number out of range")
		}
	}
	return true
}

// str scans a string and reports whether it contains escapes.
func (s *scanner) str() (esc bool, ok bool) {
	b := s.b
	s.i++ // opening quote
	for s.i < len(b) {
		c := b[s.i]
		switch {
		case c == '"':
			s.i++
			return esc, true
		case c == '\\':
			esc = true
			if s.i+1 >= len(b) {
				return esc, s.failf(s.i, "unexpected end of JSON input in a string escape")
			}
			switch b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(b) {
					return esc, s.failf(s.i, "unexpected end of JSON input in a \\u escape")
				}
				for _, h := range b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return esc, s.failf(s.i, "invalid \\u escape in a string")
					}
				}
				s.i += 6
			default:
				return esc, s.failf(s.i, "invalid escape %s in a string", quoteChar(b[s.i+1]))
			}
		case c < 0x20:
			return esc, s.failf(s.i, "control character %s in a string (must be escaped)", quoteChar(c))
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, size := utf8.DecodeRune(b[s.i:])
			if r == utf8.RuneError && size == 1 {
				return esc, s.failf(s.i, "invalid UTF-8 in a string")
			}
			s.i += size
		}
	}
	return esc, s.failf(s.i, "unexpected end of JSON input in a string")
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func (s *scanner) enter(start int) bool {
	s.depth++
	if s.depth > MaxDepth {
		return s.failf(start, "nesting deeper than %d levels", MaxDepth)
	}
	return true
}

// array scans an array. If known, fi describes the elements.
func (s *scanner) array(member bool, fi fieldInfo, known bool) bool {
	start := s.i
	if !s.enter(start) {
		return false
	}
	s.i++ // '['
	nullsStart := len(s.nulls)
	n := 0
	s.skipWS()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
	} else {
		for {
			s.skipWS()
			s.frames = append(s.frames, frame{idx: n})
			off := s.i
			k, ok := s.value(false, fi, known)
			if !ok {
				return false
			}
			if k == kindNull {
				if member {
					s.nulls = append(s.nulls, nullRef{idx: n, off: off})
				} else {
					s.issue(s.path(), "null is not allowed here")
					s.edits = append(s.edits, edit{span{off, off + 4}, "{}"})
				}
			}
			s.frames = s.frames[:len(s.frames)-1]
			n++
			s.skipWS()
			if s.i >= len(s.b) {
				return s.failf(s.i, "unexpected end of JSON input in an array")
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] == ']' {
				s.i++
				break
			}
			return s.failf(s.i, "invalid character %s after an array element (expected ',' or ']')", quoteChar(s.b[s.i]))
		}
	}
	s.depth--
	if member {
		// The caller (object) turns this into an arrMember.
		s.arrs = append(s.arrs, arrMember{n: n, nullsStart: nullsStart, nullsEnd: len(s.nulls)})
	}
	return true
}

// object scans an object of type desc (nil when unknown). A resource
// object (res) takes its type from its resourceType.
func (s *scanner) object(desc protoreflect.MessageDescriptor, res bool) bool {
	start := s.i
	if !s.enter(start) {
		return false
	}
	if res {
		desc = typeDescs[s.peekType()]
	}
	var table map[string]fieldInfo
	if desc != nil {
		table = fieldTable(desc)
	}
	s.i++ // '{'
	keyMark, arrMark, nullMark := len(s.keys), len(s.arrs), len(s.nulls)
	isRoot := s.depth == 1
	isMeta := s.inMeta && s.depth == 2
	var seen map[string]struct{}
	var rt span
	rtKind, rtEsc := kindNone, false

	s.skipWS()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
	} else {
		for {
			s.skipWS()
			if s.i >= len(s.b) {
				return s.failf(s.i, "unexpected end of JSON input in an object")
			}
			if s.b[s.i] != '"' {
				return s.failf(s.i, "invalid character %s where a property name was expected", quoteChar(s.b[s.i]))
			}
			kstart := s.i
			esc, ok := s.str()
			if !ok {
				return false
			}
			k := keyRef{span{kstart + 1, s.i - 1}, esc}
			// Duplicate property names: FHIR forbids them, and parsers
			// disagree about which one wins.
			if seen != nil {
				ks := s.keyString(k)
				if _, dup := seen[ks]; dup {
					return s.failf(kstart, "duplicate property %s", strconv.Quote(shortKey(ks)))
				}
				seen[ks] = struct{}{}
			} else {
				for _, o := range s.keys[keyMark:] {
					if s.keysEqual(o, k) {
						return s.failf(kstart, "duplicate property %s", strconv.Quote(shortKey(s.keyString(k))))
					}
				}
				if len(s.keys)-keyMark+1 >= dupMapThreshold {
					seen = make(map[string]struct{}, 2*dupMapThreshold)
					for _, o := range s.keys[keyMark:] {
						seen[s.keyString(o)] = struct{}{}
					}
					seen[s.keyString(k)] = struct{}{}
				}
			}
			s.keys = append(s.keys, k)

			s.skipWS()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				if s.i >= len(s.b) {
					return s.failf(s.i, "unexpected end of JSON input in an object")
				}
				return s.failf(s.i, "invalid character %s after a property name (expected ':')", quoteChar(s.b[s.i]))
			}
			s.i++
			s.skipWS()

			s.frames = append(s.frames, frame{key: k, idx: -1})
			if isRoot && s.members && s.keyIs(k, "meta") {
				s.inMeta = true
			}
			var fi fieldInfo
			known := false
			if table != nil {
				if !k.esc {
					fi, known = table[string(s.b[k.start:k.end])]
				} else {
					fi, known = table[s.keyString(k)]
				}
			}
			vstart := s.i
			vk, ok := s.value(true, fi, known)
			if !ok {
				return false
			}
			s.inMeta = false
			switch vk {
			case kindNull:
				s.issue(s.path(), "null is not allowed as a property value (omit the property instead)")
				s.edits = append(s.edits, edit{span{vstart, vstart + 4}, "{}"})
			case kindArray:
				s.arrs[len(s.arrs)-1].key = k
			}
			if c := s.b[k.start : k.end+1]; c[0] >= 'A' && c[0] <= 'Z' || (c[0] == '_' && c[1] >= 'A' && c[1] <= 'Z') {
				s.issue(s.path(), "unknown field (property names are case-sensitive)")
			}
			s.frames = s.frames[:len(s.frames)-1]

			if s.keyIs(k, "resourceType") {
				rt, rtKind, rtEsc = span{vstart, s.i}, vk, esc
				if vk == kindString {
					rtEsc = bytes.IndexByte(s.b[vstart:s.i], '\\') >= 0
				}
			}
			if isRoot {
				if vk == kindString && s.keyIs(k, "id") {
					s.idVal = span{vstart, s.i}
					s.idEsc = bytes.IndexByte(s.b[vstart:s.i], '\\') >= 0
				}
				if s.members {
					s.root = append(s.root, member{k, span{vstart, s.i}})
				}
			} else if isMeta && s.members {
				s.meta = append(s.meta, member{k, span{vstart, s.i}})
			}

			s.skipWS()
			if s.i >= len(s.b) {
				return s.failf(s.i, "unexpected end of JSON input in an object")
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] == '}' {
				s.i++
				break
			}
			return s.failf(s.i, "invalid character %s after an object member (expected ',' or '}')", quoteChar(s.b[s.i]))
		}
	}

	s.checkNulls(arrMark)
	s.keys, s.arrs, s.nulls = s.keys[:keyMark], s.arrs[:arrMark], s.nulls[:nullMark]
	if rtKind != kindNone {
		r := record{span: span{start, s.i}, typOK: rtKind == kindString, path: s.rawPath()}
		if r.typOK {
			r.typ = s.unquote(rt, rtEsc)
		}
		s.recs = append(s.recs, r)
	}
	s.depth--
	return true
}

// peekType returns the resourceType of the object at s.i, if it is a
// string, without validating anything (the scan that follows does). It is
// cheap when resourceType comes first, as it usually does.
func (s *scanner) peekType() string {
	b, i := s.b, s.i+1
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	for {
		ws()
		if i >= len(b) || b[i] != '"' {
			return ""
		}
		kstart := i + 1
		if i = skipString(b, i); i < 0 {
			return ""
		}
		key := b[kstart : i-1]
		ws()
		if i >= len(b) || b[i] != ':' {
			return ""
		}
		i++
		ws()
		if string(key) == "resourceType" {
			if i >= len(b) || b[i] != '"' {
				return ""
			}
			vstart := i + 1
			if i = skipString(b, i); i < 0 {
				return ""
			}
			return string(b[vstart : i-1]) // an escaped name is no type name
		}
		if i = skipValue(b, i); i < 0 {
			return ""
		}
		ws()
		if i >= len(b) || b[i] != ',' {
			return ""
		}
		i++
	}
}

// skipString returns the offset after the string starting at b[i], or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the offset after the value starting at b[i], or -1. It
// only matches brackets and strings.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			if i = skipString(b, i); i < 0 {
				return -1
			}
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return -1
}

// checkNulls checks the nulls of the current object's array members
// (s.arrs[arrMark:]): a null in x[i] needs a non-null _x[i], and a null in
// _x[i] a non-null x[i]. Every null is queued to become {}, which the
// library reads as "no value here", so that it neither rejects a valid
// pairing nor reports an invalid one a second time.
func (s *scanner) checkNulls(arrMark int) {
	arrs := s.arrs[arrMark:]
	for ai := range arrs {
		a := &arrs[ai]
		if a.nullsEnd == a.nullsStart {
			continue
		}
		name := s.keyString(a.key)
		partner := "_" + name
		base := name
		if strings.HasPrefix(name, "_") {
			partner, base = name[1:], name[1:]
		}
		var p *arrMember
		for pi := range arrs {
			if pi != ai && s.keyString(arrs[pi].key) == partner {
				p = &arrs[pi]
				break
			}
		}
		for _, nr := range s.nulls[a.nullsStart:a.nullsEnd] {
			s.edits = append(s.edits, edit{span{nr.off, nr.off + 4}, "{}"})
			if p != nil && nr.idx < p.n && !s.hasNull(p, nr.idx) {
				continue
			}
			if len(s.issues) >= maxScanIssues {
				s.dropped++
				continue
			}
			msg := "null in " + name + " needs a value at the same index of " + partner
			if p == nil {
				msg = "null in " + name + " is only allowed with a matching entry in " + partner
			}
			s.issue(s.path()+"."+base+"["+strconv.Itoa(nr.idx)+"]", msg)
		}
	}
}

// hasNull reports whether a's element idx is null. a's nulls are in
// index order.
func (s *scanner) hasNull(a *arrMember, idx int) bool {
	_, found := slices.BinarySearchFunc(s.nulls[a.nullsStart:a.nullsEnd], idx, func(nr nullRef, idx int) int { return cmp.Compare(nr.idx, idx) })
	return found
}

// maxScanIssues bounds the issues the scanner keeps; Parse reports at most
// MaxIssues anyway.
const maxScanIssues = 4 * MaxIssues

func (s *scanner) issue(path, msg string) {
	if len(s.issues) < maxScanIssues {
		s.issues = append(s.issues, scanIssue{path: path, msg: msg})
	} else {
		s.dropped++
	}
}

// path renders s.frames as a FHIRPath-like location below the root
// resource: ".name[0].given[1]". A "_x" member is named x.
func (s *scanner) path() string { return s.renderPath(false) }

// rawPath is path with member names as they are ("_x" stays "_x").
func (s *scanner) rawPath() string { return s.renderPath(true) }

func (s *scanner) renderPath(raw bool) string {
	var sb strings.Builder
	for _, f := range s.frames {
		if f.idx >= 0 {
			sb.WriteByte('[')
			sb.WriteString(strconv.Itoa(f.idx))
			sb.WriteByte(']')
			continue
		}
		k := shortKey(s.keyString(f.key))
		if !raw {
			k = strings.TrimPrefix(k, "_")
		}
		sb.WriteByte('.')
		sb.WriteString(k)
	}
	return sb.String()
}

// shortKey cuts a property name short for messages: any name longer than
// this is unknown anyway.
func shortKey(k string) string {
	if len(k) > 64 {
		return k[:64] + "…"
	}
	return k
}

func (s *scanner) keyIs(k keyRef, name string) bool {
	if !k.esc {
		return string(s.b[k.start:k.end]) == name
	}
	return s.keyString(k) == name
}

func (s *scanner) keysEqual(a, b keyRef) bool {
	if !a.esc && !b.esc {
		return bytes.Equal(s.b[a.start:a.end], s.b[b.start:b.end])
	}
	return s.keyString(a) == s.keyString(b)
}

func (s *scanner) keyString(k keyRef) string {
	return s.unquote(span{k.start - 1, k.end + 1}, k.esc)
}

// unquote decodes the JSON string at sp (quotes included).
func (s *scanner) unquote(sp span, esc bool) string {
	if !esc {
		return string(s.b[sp.start+1 : sp.end-1])
	}
	var v string
	if err := json.Unmarshal(s.b[sp.start:sp.end], &v); err != nil {
		return string(s.b[sp.start+1 : sp.end-1]) // unreachable: the scanner validated it
	}
	return v
}

func quoteChar(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("0x%02x", c)
	}
	return strconv.QuoteRune(rune(c))
}

// position renders a byte offset as "line L, column C (byte offset O)".
// Columns count bytes, from 1.
func position(b []byte, off int) string {
	off = min(off, len(b))
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	col := off + 1
	if nl := bytes.LastIndexByte(b[:off], '\n'); nl >= 0 {
		col = off - nl
	}
	return fmt.Sprintf("line %d, column %d (byte offset %d)", line, col, off)
}
