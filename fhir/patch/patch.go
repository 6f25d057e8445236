package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxResultSize bounds the patched document, in bytes of compact JSON. A
// patch whose operations would add more than this (a chain of "copy"
// operations can double a document each time) fails with ErrTooLarge.
const MaxResultSize = 64 << 20

// Apply applies the JSON Patch patch (RFC 6902) to the JSON document doc and
// returns the result as compact JSON. Member order and the bytes of every
// value the patch does not touch are kept as they were. On error it returns
// nil and an *Error; doc and patch are never modified.
func Apply(doc, patch []byte) ([]byte, error) {
	ops, perr := parsePatch(patch)
	if perr != nil {
		return nil, perr
	}
	return apply(doc, ops)
}

// Op is one JSON Patch operation, for callers that build a patch in code
// rather than parse one from JSON (see ApplyOps).
type Op struct {
	Op    string // add, remove, replace, move, copy or test
	Path  string // JSON Pointer
	From  string // JSON Pointer; move and copy only
	Value []byte // JSON; add, replace and test only
}

// ApplyOps is Apply for a patch given as operations; the same checks apply
// and the same errors are returned, with Op the index in ops.
func ApplyOps(doc []byte, ops []Op) ([]byte, error) {
	parsed := make([]operation, len(ops))
	for i, o := range ops {
		op := &parsed[i]
		op.index = i
		if !knownOp(o.Op) {
			return nil, op.fail(ErrInvalidPatch, "", "unknown op %q", o.Op)
		}
		op.name = o.Op
		if err := op.setPath(o.Path); err != nil {
			return nil, err
		}
		switch op.name {
		case "add", "replace", "test":
			var v bytes.Buffer
			if err := json.Compact(&v, o.Value); err != nil {
				return nil, op.fail(ErrInvalidPatch, o.Path, `"value" is not valid JSON`)
			}
			op.value = v.Bytes()
		case "move", "copy":
			if err := op.setFrom(o.From); err != nil {
				return nil, err
			}
		}
		if err := op.check(); err != nil {
			return nil, err
		}
	}
	return apply(doc, parsed)
}

// apply applies parsed operations to doc.
func apply(doc []byte, ops []operation) ([]byte, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		return nil, &Error{Op: -1, Msg: "document is not valid JSON", Err: ErrInvalidDocument}
	}
	a := &applier{root: newNode(compact.Bytes()), size: compact.Len()}
	for i := range ops {
		if err := a.apply(&ops[i]); err != nil {
			return nil, err
		}
	}
	return a.root.appendTo(make([]byte, 0, a.size)), nil
}

// operation is one parsed, syntactically valid patch operation.
type operation struct {
	index   int
	name    string // add, remove, replace, move, copy, test
	rawPath string
	path    pointer
	rawFrom string // move and copy only
	from    pointer
	value   []byte // compact JSON; add, replace and test only
}

// fail builds an *Error for op.
func (op *operation) fail(kind error, path, format string, args ...any) *Error {
	return opError(kind, op.index, op.name, path, format, args...)
}

// parsePatch checks the whole patch before anything is applied, so a
// malformed patch is reported as such even when an earlier operation would
// not have fit the document.
func parsePatch(patch []byte) ([]operation, *Error) {
	invalid := func(format string, args ...any) *Error {
		return &Error{Op: -1, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidPatch}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, patch); err != nil {
		return nil, invalid("patch is not valid JSON")
	}
	root := newNode(compact.Bytes())
	if !root.isArray() {
		return nil, invalid("patch must be a JSON array of operations, got %s", root.kindName())
	}
	_ = root.expand() // arrays have no member names to repeat
	ops := make([]operation, len(root.elems))
	for i, e := range root.elems {
		if err := parseOperation(i, e, &ops[i]); err != nil {
			return nil, err
		}
	}
	return ops, nil
}

func parseOperation(i int, e *node, op *operation) *Error {
	op.index = i
	if !e.isObject() {
		return op.fail(ErrInvalidPatch, "", "must be a JSON object, got %s", e.kindName())
	}
	var dup *duplicateError
	if err := e.expand(); errors.As(err, &dup) {
		return op.fail(ErrInvalidPatch, "", "member %q appears more than once", dup.key)
	}
	// str returns the string member name: present reports whether it is
	// there at all; a present non-string is an error.
	str := func(name string) (s string, present bool, err *Error) {
		j := e.find(name)
		if j < 0 {
			return "", false, nil
		}
		v := e.members[j].val
		if v.kind != '"' {
			return "", true, op.fail(ErrInvalidPatch, "", "%q must be a string, got %s", name, v.kindName())
		}
		return decodeString(v.raw), true, nil
	}

	name, ok, err := str("op")
	if err != nil {
		return err
	}
	if !ok {
		return op.fail(ErrInvalidPatch, "", `missing "op"`)
	}
	if !knownOp(name) {
		if len(name) > 40 {
			name = name[:40] + "…"
		}
		return op.fail(ErrInvalidPatch, "", "unknown op %q (want add, remove, replace, move, copy or test)", name)
	}
	op.name = name

	path, ok, err := str("path")
	if err != nil {
		return err
	}
	if !ok {
		return op.fail(ErrInvalidPatch, "", `missing "path"`)
	}
	if err := op.setPath(path); err != nil {
		return err
	}

	switch op.name {
	case "add", "replace", "test":
		j := e.find("value")
		if j < 0 {
			return op.fail(ErrInvalidPatch, path, `missing "value"`)
		}
		op.value = e.members[j].val.raw
	case "move", "copy":
		from, ok, err := str("from")
		if err != nil {
			return err
		}
		if !ok {
			return op.fail(ErrInvalidPatch, path, `missing "from"`)
		}
		if err := op.setFrom(from); err != nil {
			return err
		}
	}
	return op.check()
}

func knownOp(name string) bool {
	switch name {
	case "add", "remove", "replace", "move", "copy", "test":
		return true
	}
	return false
}

// setPath parses s as op's "path".
func (op *operation) setPath(s string) *Error {
	p, err := pointerOf(op, s)
	op.rawPath, op.path = s, p
	return err
}

// setFrom parses s as op's "from".
func (op *operation) setFrom(s string) *Error {
	p, err := pointerOf(op, s)
	op.rawFrom, op.from = s, p
	return err
}

// check rejects what no document could make valid: moving a location into
// its own child and removing the whole document.
func (op *operation) check() *Error {
	switch {
	case op.name == "move" && op.from.isProperPrefixOf(op.path):
		return op.fail(ErrInvalidPatch, op.rawPath, "cannot move %s into its own child %s", displayPointer(op.rawFrom), op.rawPath)
	case op.name == "remove" && len(op.path) == 0:
		return op.fail(ErrInvalidPatch, op.rawPath, "cannot remove the whole document")
	}
	return nil
}

// pointerOf parses s as a JSON Pointer of op.
func pointerOf(op *operation, s string) (pointer, *Error) {
	p, err := parsePointer(s)
	if err != nil {
		return nil, op.fail(ErrInvalidPatch, s, "invalid JSON Pointer %q: %v", s, err)
	}
	return p, nil
}

// displayPointer renders a pointer for a message; the empty pointer is the
// whole document.
func displayPointer(raw string) string {
	if raw == "" {
		return `"" (the whole document)`
	}
	return raw
}

// prefix returns the first k reference tokens of the raw pointer s, still
// escaped as written.
func prefix(s string, k int) string {
	if k == 0 {
		return ""
	}
	n := 0
	for i := 1; i < len(s); i++ {
		if s[i] == '/' {
			n++
			if n == k {
				return s[:i]
			}
		}
	}
	return s
}

// applier holds the document while operations are applied to it.
type applier struct {
	root *node
	size int // upper bound on the size of the result
}

func (a *applier) apply(op *operation) *Error {
	switch op.name {
	case "add":
		if err := a.grow(op, op.rawPath, len(op.value)); err != nil {
			return err
		}
		return a.add(op, op.rawPath, op.path, newNode(op.value))
	case "remove":
		_, err := a.remove(op, op.rawPath, op.path)
		return err
	case "replace":
		return a.replace(op)
	case "move":
		if op.from.equal(op.path) {
			_, err := a.get(op, op.rawFrom, op.from)
			return err
		}
		v, err := a.remove(op, op.rawFrom, op.from)
		if err != nil {
			return err
		}
		return a.add(op, op.rawPath, op.path, v)
	case "copy":
		v, err := a.get(op, op.rawFrom, op.from)
		if err != nil {
			return err
		}
		clone := v.bytes() // a copy must not share nodes with its source
		if err := a.grow(op, op.rawPath, len(clone)); err != nil {
			return err
		}
		return a.add(op, op.rawPath, op.path, newNode(clone))
	case "test":
		v, err := a.get(op, op.rawPath, op.path)
		if err != nil {
			return err
		}
		if !equalJSON(v.bytes(), op.value) {
			return op.fail(ErrTestFailed, op.rawPath, "value at %s is not equal to the expected value", displayPointer(op.rawPath))
		}
		return nil
	}
	panic("patch: unreachable: unknown op " + op.name) // parseOperation checked the name
}

// grow accounts for n more bytes in the result.
func (a *applier) grow(op *operation, raw string, n int) *Error {
	a.size += n
	if a.size > MaxResultSize {
		return op.fail(ErrTooLarge, raw, "the patched document would exceed %d bytes", MaxResultSize)
	}
	return nil
}

// get returns the node at p, which must exist. raw is p as written in the
// patch, for messages.
func (a *applier) get(op *operation, raw string, p pointer) (*node, *Error) {
	n := a.root
	for k, tok := range p {
		if err := a.expand(op, raw, k, n); err != nil {
			return nil, err
		}
		switch {
		case n.isObject():
			j := n.find(tok)
			if j < 0 {
				return nil, a.notFound(op, raw, k+1, "")
			}
			n = n.members[j].val
		case n.isArray():
			idx, err := a.index(op, raw, k, n, tok, len(n.elems)-1)
			if err != nil {
				return nil, err
			}
			n = n.elems[idx]
		default:
			return nil, a.notFound(op, raw, k+1, fmt.Sprintf("%s is %s", where(raw, k), n.kindName()))
		}
	}
	return n, nil
}

// parent returns the container that holds the location p (which must have
// at least one token), expanded.
func (a *applier) parent(op *operation, raw string, p pointer) (*node, *Error) {
	n, err := a.get(op, raw, p[:len(p)-1])
	if err != nil {
		return nil, err
	}
	if err := a.expand(op, raw, len(p)-1, n); err != nil {
		return nil, err
	}
	if !n.isObject() && !n.isArray() {
		return nil, a.notFound(op, raw, len(p), fmt.Sprintf("%s is %s", where(raw, len(p)-1), n.kindName()))
	}
	return n, nil
}

// add puts v at p: the whole document, a member of an object (replacing
// one of the same name), or an element inserted into an array.
func (a *applier) add(op *operation, raw string, p pointer, v *node) *Error {
	if len(p) == 0 {
		a.root = v
		return nil
	}
	n, err := a.parent(op, raw, p)
	if err != nil {
		return err
	}
	tok := p[len(p)-1]
	if n.isObject() {
		if j := n.find(tok); j >= 0 {
			n.members[j].val = v
		} else {
			n.members = append(n.members, member{rawKey: encodeString(tok), key: tok, val: v})
		}
		return nil
	}
	idx := len(n.elems)
	if tok != "-" {
		if idx, err = a.index(op, raw, len(p)-1, n, tok, len(n.elems)); err != nil {
			return err
		}
	}
	n.elems = append(n.elems, nil)
	copy(n.elems[idx+1:], n.elems[idx:])
	n.elems[idx] = v
	return nil
}

// remove deletes the value at p and returns it.
func (a *applier) remove(op *operation, raw string, p pointer) (*node, *Error) {
	n, err := a.parent(op, raw, p)
	if err != nil {
		return nil, err
	}
	tok := p[len(p)-1]
	if n.isObject() {
		j := n.find(tok)
		if j < 0 {
			return nil, a.notFound(op, raw, len(p), "")
		}
		v := n.members[j].val
		n.members = append(n.members[:j], n.members[j+1:]...)
		return v, nil
	}
	idx, err := a.index(op, raw, len(p)-1, n, tok, len(n.elems)-1)
	if err != nil {
		return nil, err
	}
	v := n.elems[idx]
	n.elems = append(n.elems[:idx], n.elems[idx+1:]...)
	return v, nil
}

func (a *applier) replace(op *operation) *Error {
	v := newNode(op.value)
	if err := a.grow(op, op.rawPath, len(op.value)); err != nil {
		return err
	}
	p := op.path
	if len(p) == 0 {
		a.root = v
		return nil
	}
	n, err := a.parent(op, op.rawPath, p)
	if err != nil {
		return err
	}
	tok := p[len(p)-1]
	if n.isObject() {
		j := n.find(tok)
		if j < 0 {
			return a.notFound(op, op.rawPath, len(p), "")
		}
		n.members[j].val = v
		return nil
	}
	idx, err := a.index(op, op.rawPath, len(p)-1, n, tok, len(n.elems)-1)
	if err != nil {
		return err
	}
	n.elems[idx] = v
	return nil
}

// index parses tok, the token after the first k tokens of raw, as an index
// into the array n, which must be at most max.
func (a *applier) index(op *operation, raw string, k int, n *node, tok string, max int) (int, *Error) {
	if tok == "-" {
		return 0, a.notFound(op, raw, k+1, fmt.Sprintf(`"-" (past the end of %s) names no element`, where(raw, k)))
	}
	idx, ok := arrayIndex(tok)
	if !ok {
		return 0, a.notFound(op, raw, k+1, fmt.Sprintf("%q is not an array index and %s is an array", tok, where(raw, k)))
	}
	if idx > max {
		return 0, a.notFound(op, raw, k+1, fmt.Sprintf("index %d is out of range, %s has %s", idx, where(raw, k), plural(len(n.elems), "element")))
	}
	return idx, nil
}

// expand expands n, the node at the first k tokens of raw.
func (a *applier) expand(op *operation, raw string, k int, n *node) *Error {
	var dup *duplicateError
	if err := n.expand(); errors.As(err, &dup) {
		return op.fail(ErrInvalidDocument, raw, "%s has member %q more than once", where(raw, k), dup.key)
	}
	return nil
}

// notFound reports that raw does not exist; the first k tokens of raw are
// where the walk stopped, and why says why when that is not the end.
func (a *applier) notFound(op *operation, raw string, k int, why string) *Error {
	msg := fmt.Sprintf("path %s does not exist", displayPointer(raw))
	if why == "" && prefix(raw, k) != raw {
		why = prefix(raw, k) + " does not exist"
	}
	if why != "" {
		msg += ": " + why
	}
	return op.fail(ErrPathNotFound, raw, "%s", msg)
}

// where names the location of the first k tokens of raw in a message.
func where(raw string, k int) string {
	if p := prefix(raw, k); p != "" {
		return p
	}
	return "the document"
}

// plural formats "1 element", "3 elements".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
