package fhirpath

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SyntaxError is a Compile error: what is wrong, and where.
type SyntaxError struct {
	Expr   string // the expression
	Offset int    // byte offset of the problem in Expr
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("fhirpath: %s at offset %d of %q", e.Msg, e.Offset, e.Expr)
}

// ---- lexer

type tokKind int

const (
	tEOF     tokKind = iota
	tIdent           // name, or `delimited name`
	tString          // 'text'
	tNumber          // 12, 1.5
	tDate            // @2020-01-01, @T12:00
	tEnv             // %name, %'name', %`name`
	tSpecial         // $this, $index, $total
	tOp              // punctuation and symbolic operators
)

type token struct {
	kind tokKind
	pos  int
	text string // identifier name, decoded string, number text, operator
	// quoted marks a `delimited` identifier, which is never a keyword.
	quoted bool
}

type lexer struct {
	src string
	pos int
}

func (l *lexer) errf(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Expr: l.src, Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) skipSpace() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "//"):
			end := strings.IndexByte(l.src[l.pos:], '\n')
			if end < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += end + 1
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.errf(l.pos, "unterminated comment")
			}
			l.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case isIdentStart(c):
		l.pos++
		for l.pos < len(l.src) && (isIdentStart(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		return token{kind: tIdent, pos: start, text: l.src[start:l.pos]}, nil
	case c == '`':
		s, err := l.quoted('`')
		if err != nil {
			return token{}, err
		}
		return token{kind: tIdent, pos: start, text: s, quoted: true}, nil
	case c == '\'':
		s, err := l.quoted('\'')
		if err != nil {
			return token{}, err
		}
		return token{kind: tString, pos: start, text: s}, nil
	case isDigit(c):
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
			l.pos++
			for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
				l.pos++
			}
		}
		return token{kind: tNumber, pos: start, text: l.src[start:l.pos]}, nil
	case c == '@':
		l.pos++
		for l.pos < len(l.src) && strings.IndexByte("0123456789-:.TZ+", l.src[l.pos]) >= 0 {
			l.pos++
		}
		return token{kind: tDate, pos: start, text: l.src[start:l.pos]}, nil
	case c == '%':
		l.pos++
		if l.pos < len(l.src) && (l.src[l.pos] == '\'' || l.src[l.pos] == '`') {
			s, err := l.quoted(l.src[l.pos])
			if err != nil {
				return token{}, err
			}
			return token{kind: tEnv, pos: start, text: s}, nil
		}
		n := l.pos
		for l.pos < len(l.src) && (isIdentStart(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		if l.pos == n {
			return token{}, l.errf(start, "expected a variable name after %%")
		}
		return token{kind: tEnv, pos: start, text: l.src[n:l.pos]}, nil
	case c == '$':
		l.pos++
		n := l.pos
		for l.pos < len(l.src) && isIdentStart(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tSpecial, pos: start, text: l.src[n:l.pos]}, nil
	}
	for _, op := range []string{"<=", ">=", "!=", "!~"} {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += 2
			return token{kind: tOp, pos: start, text: op}, nil
		}
	}
	if strings.IndexByte(".[](),|=~<>+-*/&{}", c) >= 0 {
		l.pos++
		return token{kind: tOp, pos: start, text: string(c)}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return token{}, l.errf(start, "unexpected character %q", r)
}

// quoted reads a quoted string or identifier starting at l.pos and
// decodes its escapes.
func (l *lexer) quoted(q byte) (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case q:
			l.pos++
			return b.String(), nil
		case '\\':
			if l.pos+1 >= len(l.src) {
				return "", l.errf(l.pos, "unterminated string")
			}
			e := l.src[l.pos+1]
			l.pos += 2
			switch e {
			case '\'', '"', '`', '\\', '/':
				b.WriteByte(e)
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if l.pos+4 > len(l.src) {
					return "", l.errf(l.pos-2, "bad \\u escape")
				}
				n, err := strconv.ParseUint(l.src[l.pos:l.pos+4], 16, 16)
				if err != nil {
					return "", l.errf(l.pos-2, "bad \\u escape")
				}
				b.WriteRune(rune(n))
				l.pos += 4
			default:
				return "", l.errf(l.pos-2, "unknown escape \\%c", e)
			}
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return "", l.errf(start, "unterminated string")
}

// ---- parser

type astKind int

const (
	aIdent   astKind = iota // name (at the start of a path, or after '.')
	aFunc                   // name(args)
	aInvoke                 // left.right, right an aIdent or aFunc
	aIndex                  // left[right]
	aString                 // 'text'
	aNumber                 // 1, 1.5
	aBool                   // true, false
	aEmpty                  // {}
	aEnv                    // %name
	aSpecial                // $this, …
	aUnary                  // -x, +x
	aBinary                 // left op right
	aType                   // left is/as type
)

type ast struct {
	kind        astKind
	pos         int
	name        string // identifier, function, operator, literal text, variable
	quoted      bool   // `delimited` identifier
	left, right *ast
	args        []*ast
	typ         typeSpec // aType
}

// typeSpec is a (possibly qualified) type name: FHIR.Quantity, System.String,
// Quantity.
type typeSpec struct {
	ns   string // "FHIR", "System" or ""
	name string
	pos  int
}

func (t typeSpec) String() string {
	if t.ns == "" {
		return t.name
	}
	return t.ns + "." + t.name
}

type parser struct {
	lx  lexer
	tok token
}

// parse parses a whole expression.
func parse(src string) (*ast, error) {
	p := &parser{lx: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, p.lx.errf(0, "empty expression")
	}
	e, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.lx.errf(p.tok.pos, "unexpected %s", p.tok.describe())
	}
	return e, nil
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string " + strconv.Quote(t.text)
	case tIdent:
		return "identifier " + strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) isOp(s string) bool { return p.tok.kind == tOp && p.tok.text == s }

func (p *parser) isKeyword(s string) bool {
	return p.tok.kind == tIdent && !p.tok.quoted && p.tok.text == s
}

func (p *parser) expect(s string) error {
	if !p.isOp(s) {
		return p.lx.errf(p.tok.pos, "expected %q, found %s", s, p.tok.describe())
	}
	return p.advance()
}

// Binary operator precedence, loosest first (FHIRPath §"Operator precedence").
const (
	precImplies = iota + 1
	precOr
	precAnd
	precMembership
	precEquality
	precInequality
	precUnion
	precType
	precAdditive
	precMultiplicative
)

// binaryOp returns the current token's operator and precedence, if it is one.
func (p *parser) binaryOp() (string, int) {
	t := p.tok
	switch t.kind {
	case tOp:
		switch t.text {
		case "*", "/":
			return t.text, precMultiplicative
		case "+", "-", "&":
			return t.text, precAdditive
		case "|":
			return t.text, precUnion
		case "<", ">", "<=", ">=":
			return t.text, precInequality
		case "=", "~", "!=", "!~":
			return t.text, precEquality
		}
	case tIdent:
		if t.quoted {
			return "", 0
		}
		switch t.text {
		case "div", "mod":
			return t.text, precMultiplicative
		case "is", "as":
			return t.text, precType
		case "in", "contains":
			return t.text, precMembership
		case "and":
			return t.text, precAnd
		case "or", "xor":
			return t.text, precOr
		case "implies":
			return t.text, precImplies
		}
	}
	return "", 0
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 200

func (p *parser) expr(depth int) (*ast, error) {
	return p.binary(precImplies, depth)
}

func (p *parser) binary(minPrec, depth int) (*ast, error) {
	if depth > maxDepth {
		return nil, p.lx.errf(p.tok.pos, "expression nested too deeply")
	}
	left, err := p.unary(depth + 1)
	if err != nil {
		return nil, err
	}
	for {
		op, prec := p.binaryOp()
		if prec == 0 || prec < minPrec {
			return left, nil
		}
		pos := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		if prec == precType {
			ts, err := p.typeSpecifier()
			if err != nil {
				return nil, err
			}
			left = &ast{kind: aType, pos: pos, name: op, left: left, typ: ts}
			continue
		}
		right, err := p.binary(prec+1, depth+1)
		if err != nil {
			return nil, err
		}
		left = &ast{kind: aBinary, pos: pos, name: op, left: left, right: right}
	}
}

func (p *parser) typeSpecifier() (typeSpec, error) {
	if p.tok.kind != tIdent {
		return typeSpec{}, p.lx.errf(p.tok.pos, "expected a type name, found %s", p.tok.describe())
	}
	ts := typeSpec{name: p.tok.text, pos: p.tok.pos}
	if err := p.advance(); err != nil {
		return typeSpec{}, err
	}
	if p.isOp(".") && (ts.name == "FHIR" || ts.name == "System") {
		if err := p.advance(); err != nil {
			return typeSpec{}, err
		}
		if p.tok.kind != tIdent {
			return typeSpec{}, p.lx.errf(p.tok.pos, "expected a type name, found %s", p.tok.describe())
		}
		ts.ns, ts.name = ts.name, p.tok.text
		if err := p.advance(); err != nil {
			return typeSpec{}, err
		}
	}
	return ts, nil
}

func (p *parser) unary(depth int) (*ast, error) {
	if p.isOp("-") || p.isOp("+") {
		pos, op := p.tok.pos, p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
		if depth > maxDepth {
			return nil, p.lx.errf(pos, "expression nested too deeply")
		}
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &ast{kind: aUnary, pos: pos, name: op, left: x}, nil
	}
	return p.postfix(depth)
}

func (p *parser) postfix(depth int) (*ast, error) {
	e, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("."):
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tIdent {
				return nil, p.lx.errf(p.tok.pos, "expected a name after '.', found %s", p.tok.describe())
			}
			m, err := p.invocation(depth)
			if err != nil {
				return nil, err
			}
			e = &ast{kind: aInvoke, pos: m.pos, left: e, right: m}
		case p.isOp("["):
			pos := p.tok.pos
			if err := p.advance(); err != nil {
				return nil, err
			}
			idx, err := p.expr(depth + 1)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			e = &ast{kind: aIndex, pos: pos, left: e, right: idx}
		default:
			return e, nil
		}
	}
}

// invocation parses name or name(args) at an identifier token.
func (p *parser) invocation(depth int) (*ast, error) {
	t := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	if !p.isOp("(") {
		return &ast{kind: aIdent, pos: t.pos, name: t.text, quoted: t.quoted}, nil
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	f := &ast{kind: aFunc, pos: t.pos, name: t.text}
	if p.isOp(")") {
		return f, p.advance()
	}
	for {
		a, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		f.args = append(f.args, a)
		if p.isOp(",") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return f, nil
	}
}

func (p *parser) term(depth int) (*ast, error) {
	t := p.tok
	switch t.kind {
	case tIdent:
		if !t.quoted && (t.text == "true" || t.text == "false") {
			return &ast{kind: aBool, pos: t.pos, name: t.text}, p.advance()
		}
		return p.invocation(depth)
	case tString:
		return &ast{kind: aString, pos: t.pos, name: t.text}, p.advance()
	case tNumber:
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tString || (p.tok.kind == tIdent && !p.tok.quoted && calendarUnits[p.tok.text]) {
			return nil, p.lx.errf(t.pos, "quantity literals are not supported")
		}
		return &ast{kind: aNumber, pos: t.pos, name: t.text}, nil
	case tDate:
		return nil, p.lx.errf(t.pos, "date and time literals are not supported")
	case tEnv:
		return &ast{kind: aEnv, pos: t.pos, name: t.text}, p.advance()
	case tSpecial:
		return &ast{kind: aSpecial, pos: t.pos, name: t.text}, p.advance()
	case tOp:
		switch t.text {
		case "(":
			if err := p.advance(); err != nil {
				return nil, err
			}
			e, err := p.expr(depth + 1)
			if err != nil {
				return nil, err
			}
			return e, p.expect(")")
		case "{":
			if err := p.advance(); err != nil {
				return nil, err
			}
			if err := p.expect("}"); err != nil {
				return nil, err
			}
			return &ast{kind: aEmpty, pos: t.pos}, nil
		}
	}
	return nil, p.lx.errf(t.pos, "unexpected %s", t.describe())
}

var calendarUnits = map[string]bool{
	"year": true, "years": true, "month": true, "months": true, "week": true, "weeks": true,
	"day": true, "days": true, "hour": true, "hours": true, "minute": true, "minutes": true,
	"second": true, "seconds": true, "millisecond": true, "milliseconds": true,
}
