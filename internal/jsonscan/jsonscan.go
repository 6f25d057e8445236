package jsonscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays the scanner
// accepts.
const MaxDepth = 100

// SyntaxError is malformed JSON, at byte Offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("at byte %d: %s", e.Offset, e.Msg) }

// Scanner reads B from I. Its methods start at the next value (after
// optional white space) and leave I after what they read.
type Scanner struct {
	B []byte
	I int
}

// Errorf returns a SyntaxError at the current position.
func (s *Scanner) Errorf(format string, args ...any) error {
	return &SyntaxError{Offset: s.I, Msg: fmt.Sprintf(format, args...)}
}

// SkipSpace moves past white space.
func (s *Scanner) SkipSpace() {
	for s.I < len(s.B) {
		switch s.B[s.I] {
		case ' ', '\t', '\n', '\r':
			s.I++
		default:
			return
		}
	}
}

// Peek returns the first byte of the next value (0 at the end).
func (s *Scanner) Peek() byte {
	s.SkipSpace()
	if s.I >= len(s.B) {
		return 0
	}
	return s.B[s.I]
}

// End checks that nothing but white space is left.
func (s *Scanner) End() error {
	if s.SkipSpace(); s.I < len(s.B) {
		return s.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// Object reads an object, calling member with each member's name, with
// the scanner at the member's value, which member must read (or Skip).
// depth is the object's nesting depth.
func (s *Scanner) Object(depth int, member func(name string) error) error {
	return s.ObjectBytes(depth, func(name []byte) error { return member(string(name)) })
}

// ObjectBytes is Object with each name as bytes, valid only during the
// call: a map lookup m[string(name)] then costs no allocation.
func (s *Scanner) ObjectBytes(depth int, member func(name []byte) error) error {
	if depth > MaxDepth {
		return s.Errorf("nested deeper than %d levels", MaxDepth)
	}
	if s.Peek() != '{' {
		return s.Errorf("expected an object")
	}
	s.I++
	if s.Peek() == '}' {
		s.I++
		return nil
	}
	for {
		name, err := s.name()
		if err != nil {
			return err
		}
		if s.Peek() != ':' {
			return s.Errorf("expected ':' after a member name")
		}
		s.I++
		s.SkipSpace()
		if err := member(name); err != nil {
			return err
		}
		if more, err := s.next('}'); err != nil || !more {
			return err
		}
	}
}

// name reads a member name: its bytes in B when it has no escapes.
func (s *Scanner) name() ([]byte, error) {
	if s.Peek() != '"' {
		return nil, s.Errorf("expected a string")
	}
	start := s.I
	escaped, err := s.skipString()
	if err != nil {
		return nil, err
	}
	if !escaped {
		return s.B[start+1 : s.I-1], nil
	}
	var v string
	if err := json.Unmarshal(s.B[start:s.I], &v); err != nil {
		return nil, s.Errorf("invalid string: %v", err)
	}
	return []byte(v), nil
}

// Array reads an array, calling element with the scanner at each
// element, which element must read (or Skip). depth is the array's
// nesting depth.
func (s *Scanner) Array(depth int, element func(i int) error) error {
	if depth > MaxDepth {
		return s.Errorf("nested deeper than %d levels", MaxDepth)
	}
	if s.Peek() != '[' {
		return s.Errorf("expected an array")
	}
	s.I++
	if s.Peek() == ']' {
		s.I++
		return nil
	}
	for i := 0; ; i++ {
		s.SkipSpace()
		if err := element(i); err != nil {
			return err
		}
		if more, err := s.next(']'); err != nil || !more {
			return err
		}
	}
}

// next consumes the ',' before another member or element (more), or the
// closing byte.
func (s *Scanner) next(closing byte) (more bool, err error) {
	switch s.Peek() {
	case ',':
		s.I++
		return true, nil
	case closing:
		s.I++
		return false, nil
	case 0:
		return false, s.Errorf("unexpected end of JSON")
	}
	return false, s.Errorf("expected ',' or '%c'", closing)
}

// String reads a string and returns its value.
func (s *Scanner) String() (string, error) {
	if s.Peek() != '"' {
		return "", s.Errorf("expected a string")
	}
	start := s.I
	escaped, err := s.skipString()
	if err != nil {
		return "", err
	}
	raw := s.B[start:s.I]
	if !escaped {
		return string(raw[1 : len(raw)-1]), nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", s.Errorf("invalid string: %v", err)
	}
	return v, nil
}

// skipString moves past the string at s.I, checking its escapes and
// UTF-8, and reports whether it has escapes.
func (s *Scanner) skipString() (escaped bool, err error) {
	start := s.I
	for j := s.I + 1; j < len(s.B); j++ {
		switch c := s.B[j]; {
		case c == '"':
			s.I = j + 1
			if !utf8.Valid(s.B[start:s.I]) {
				s.I = start
				return false, s.Errorf("invalid UTF-8 in a string")
			}
			return escaped, nil
		case c == '\\':
			escaped = true
			j++
			if j >= len(s.B) {
				break
			}
			switch s.B[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.B) || !isHex(s.B[j+1]) || !isHex(s.B[j+2]) || !isHex(s.B[j+3]) || !isHex(s.B[j+4]) {
					s.I = j
					return false, s.Errorf("invalid \\u escape in a string")
				}
				j += 4
			default:
				s.I = j
				return false, s.Errorf("invalid escape in a string")
			}
		case c < 0x20:
			s.I = j
			return false, s.Errorf("control character in a string")
		}
	}
	s.I = len(s.B)
	return false, s.Errorf("unterminated string")
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f' }

// Value reads any value, checking its syntax, and returns its bytes.
// depth is its nesting depth.
func (s *Scanner) Value(depth int) ([]byte, error) {
	s.SkipSpace()
	start := s.I
	if err := s.Skip(depth); err != nil {
		return nil, err
	}
	return s.B[start:s.I], nil
}

// Skip reads any value, checking its syntax. depth is its nesting depth.
func (s *Scanner) Skip(depth int) error {
	switch c := s.Peek(); c {
	case '"':
		_, err := s.skipString()
		return err
	case '{', '[':
		if depth > MaxDepth {
			return s.Errorf("nested deeper than %d levels", MaxDepth)
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		s.I++
		if s.Peek() == closing {
			s.I++
			return nil
		}
		for {
			if c == '{' {
				if s.Peek() != '"' {
					return s.Errorf("expected a member name")
				}
				if _, err := s.skipString(); err != nil {
					return err
				}
				if s.Peek() != ':' {
					return s.Errorf("expected ':' after a member name")
				}
				s.I++
			}
			if err := s.Skip(depth + 1); err != nil {
				return err
			}
			if more, err := s.next(closing); err != nil || !more {
				return err
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case 0:
		if s.I >= len(s.B) {
			return s.Errorf("unexpected end of JSON")
		}
	}
	return s.number()
}

func (s *Scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.B[s.I:], []byte(lit)) {
		return s.Errorf("invalid literal")
	}
	s.I += len(lit)
	return nil
}

func (s *Scanner) number() error {
	start := s.I
	for s.I < len(s.B) && isNumberByte(s.B[s.I]) {
		s.I++
	}
	if s.I == start || !json.Valid(s.B[start:s.I]) {
		s.I = start
		return s.Errorf("invalid value")
	}
	return nil
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}
