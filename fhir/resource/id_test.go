package resource

import (
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"a":                                    true,
		"Patient-1.2":                          true,
		"0":                                    true,
		strings.Repeat("a", 64):                true,
		"":                                     false,
		strings.Repeat("a", 65):                false,
		"a_b":                                  false,
		"a b":                                  false,
		"a/b":                                  false,
		"é":                                    false,
		"01934a5e-7b1c-7def-8abc-0123456789ab": true,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestNewID(t *testing.T) {
	prev := ""
	seen := map[string]bool{}
	for range 10000 {
		id := NewID()
		if !ValidID(id) || len(id) != 36 || id[14] != '7' {
			t.Fatalf("NewID() = %q, want a valid UUIDv7 string", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
		if id <= prev {
			t.Fatalf("NewID() = %q after %q: not increasing", id, prev)
		}
		prev = id
	}
}
