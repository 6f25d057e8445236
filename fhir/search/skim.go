package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

var errSkim = errors.New("malformed JSON object")

// skimObject calls f with each member of the JSON object in b: its key
// (decoded, and as written with its quotes) and its value's bytes. It finds where values end without decoding them, so
// that a caller interested in a few members of a large resource pays for
// decoding only those. Members are not checked beyond their nesting;
// whatever f decodes is.
func skimObject(b []byte, f func(key string, rawKey, raw []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errSkim
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return errSkim
		}
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errSkim
		}
		end, err := skipString(b, i)
		if err != nil {
			return err
		}
		rawKey := b[i:end]
		key := string(b[i+1 : end-1])
		if strings.IndexByte(key, '\\') >= 0 {
			if err := json.Unmarshal(b[i:end], &key); err != nil {
				return errSkim
			}
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return errSkim
		}
		start := skipSpace(b, i+1)
		end, err = skipValue(b, start)
		if err != nil {
			return err
		}
		if err := f(key, rawKey, b[start:end]); err != nil {
			return err
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return errSkim
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			if skipSpace(b, i+1) != len(b) {
				return errSkim
			}
			return nil
		default:
			return errSkim
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			break
		}
		j += k
		// The quote ends the string unless an odd number of backslashes
		// escapes it.
		n := 0
		for n < j-i-1 && b[j-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return j + 1, nil
		}
	}
	return 0, errSkim
}

// skipValue returns the index after the value starting at b[i]: a string,
// an object or array (by nesting, strings skipped), or a literal or
// number (up to the next delimiter).
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSkim
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errSkim
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return 0, errSkim
	}
	return j, nil
}
