package rest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
)

// maxCursorTrail bounds how many earlier page positions a paging token
// keeps for previous links.
const maxCursorTrail = 20

// pageToken is the opaque _cursor of searchset paging links: the keyset
// position of this page (the last element of Trail) and the positions of
// the pages before it, so a previous link can be built. An empty trail is
// the first page.
type pageToken struct {
	Trail []tokenCursor `json:"t"`
}

type tokenCursor struct {
	Values   []tokenValue `json:"v"`
	Key      int64        `json:"k"`
	Snapshot int64        `json:"s"`
}

// tokenValue keeps a sort value's Go type across the JSON round trip.
type tokenValue struct {
	S *string  `json:"s,omitempty"`
	I *int64   `json:"i,omitempty"`
	F *float64 `json:"f,omitempty"`
}

func encodeToken(t pageToken) string {
	if len(t.Trail) > maxCursorTrail {
		t.Trail = t.Trail[len(t.Trail)-maxCursorTrail:]
	}
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (pageToken, error) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err == nil && len(t.Trail) == 0 {
		err = errors.New("empty trail")
	}
	if err != nil {
		return t, outcome.Wrap(outcome.KindInvalid, err, "%s is not a paging token issued by this server", cursorParam)
	}
	return t, nil
}

func toTokenCursor(c *search.Cursor) tokenCursor {
	tc := tokenCursor{Key: c.Key, Snapshot: c.Snapshot, Values: make([]tokenValue, len(c.Values))}
	for i, v := range c.Values {
		switch x := v.(type) {
		case string:
			tc.Values[i].S = &x
		case int64:
			tc.Values[i].I = &x
		case float64:
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				tc.Values[i].F = &x
			}
		}
	}
	return tc
}

func (tc tokenCursor) cursor() *search.Cursor {
	c := &search.Cursor{Key: tc.Key, Snapshot: tc.Snapshot, Values: make([]any, len(tc.Values))}
	for i, v := range tc.Values {
		switch {
		case v.S != nil:
			c.Values[i] = *v.S
		case v.I != nil:
			c.Values[i] = *v.I
		case v.F != nil:
			c.Values[i] = *v.F
		}
	}
	return c
}
