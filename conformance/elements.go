package conformance

import (
	_ "embed"
	"encoding/json"
	"strings"
	"sync"
)

//go:generate sh -c "go run ./internal/genelements $(../scripts/fetch-r4-examples.sh)"

//go:embed elements.json
var elementsJSON []byte

type typeElements struct {
	Summary  []string `json:"summary"`
	Required []string `json:"required"`
}

var elements = sync.OnceValue(func() map[string]typeElements {
	var m map[string]typeElements
	if err := json.Unmarshal(elementsJSON, &m); err != nil {
		panic("conformance: elements.json: " + err.Error())
	}
	return m
})

// IsSummary reports whether the top-level JSON member name of a resource
// of type typ is a summary element (returned by _summary=true). Choice
// elements match by their prefix (deceased[x] covers deceasedBoolean).
func IsSummary(typ, name string) bool { return matches(elements()[typ].Summary, name) }

// IsRequired reports whether the top-level JSON member name of a resource
// of type typ is mandatory (min > 0), and so kept by _summary=text and
// _elements.
func IsRequired(typ, name string) bool { return matches(elements()[typ].Required, name) }

func matches(list []string, name string) bool {
	for _, e := range list {
		if e == name {
			return true
		}
		if p, ok := strings.CutSuffix(e, "[x]"); ok && strings.HasPrefix(name, p) && len(name) > len(p) && name[len(p)] >= 'A' && name[len(p)] <= 'Z' {
			return true
		}
	}
	return false
}
