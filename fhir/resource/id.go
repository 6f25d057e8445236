package resource

import "github.com/google/uuid"

// MaxIDLength is the longest logical id R4 allows.
const MaxIDLength = 64

// ValidID reports whether id is a valid R4 logical id:
// 1 to 64 characters from [A-Za-z0-9\-\.].
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLength {
		return false
	}
	for i := range len(id) {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// NewID returns a new server-assigned logical id: a UUIDv7 in its canonical
// 36-character form, so that ids sort by creation time.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does; a random
		// (v4) id is still unique, it just does not sort by time.
		return uuid.NewString()
	}
	return id.String()
}
