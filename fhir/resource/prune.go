package resource

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The library validates (required fields, reference targets, formats) only
// once the whole resource has parsed. So that one answer carries every
// issue, a resource with parse errors is validated a second time with the
// members those errors point at removed; that pass's issues are added,
// except those at or below a removed member (its absence is no news).

// pruneNode is a tree of the members to remove from a JSON value.
type pruneNode struct {
	remove bool
	keys   map[string]*pruneNode
	elems  map[int]*pruneNode
}

// pathSeg is one step of a library JSON path: a member, or an array index
// when key is empty.
type pathSeg struct {
	key string
	idx int
}

// splitPath splits a library path below the root ("name[0]._given") into
// steps. It reports false for paths it cannot read.
func splitPath(rel string) ([]pathSeg, bool) {
	var segs []pathSeg
	if rel == "" {
		return nil, true
	}
	for part := range strings.SplitSeq(rel, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key == "" {
			return nil, false
		}
		segs = append(segs, pathSeg{key: key})
		for rest != "" {
			n, tail, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(n)
			if !ok || err != nil || i < 0 {
				return nil, false
			}
			segs = append(segs, pathSeg{idx: i})
			rest = strings.TrimPrefix(tail, "[")
		}
	}
	return segs, true
}

// add marks the member at segs for removal. Trailing indices are dropped:
// the whole array member goes, so that other elements keep their indices.
func (n *pruneNode) add(segs []pathSeg) bool {
	for len(segs) > 0 && segs[len(segs)-1].key == "" {
		segs = segs[:len(segs)-1]
	}
	if len(segs) == 0 {
		return false
	}
	for _, s := range segs {
		if n.remove {
			return true // an enclosing member goes already
		}
		var next *pruneNode
		if s.key != "" {
			if n.keys == nil {
				n.keys = map[string]*pruneNode{}
			}
			if next = n.keys[s.key]; next == nil {
				next = &pruneNode{}
				n.keys[s.key] = next
			}
		} else {
			if n.elems == nil {
				n.elems = map[int]*pruneNode{}
			}
			if next = n.elems[s.idx]; next == nil {
				next = &pruneNode{}
				n.elems[s.idx] = next
			}
		}
		n = next
	}
	n.remove = true
	return true
}

// prune returns the valid JSON value b without the members n marks.
func prune(b []byte, n *pruneNode) []byte {
	i := skipWS(b, 0)
	if i >= len(b) {
		return b
	}
	switch b[i] {
	case '{':
		out := []byte{'{'}
		first := true
		i = skipWS(b, i+1)
		for i < len(b) && b[i] == '"' {
			kstart := i
			i = skipString(b, i)
			if i < 0 {
				return b
			}
			kraw := b[kstart:i]
			i = skipWS(b, i)
			i = skipWS(b, i+1) // ':'
			vstart := i
			if i = skipValue(b, i); i < 0 {
				return b
			}
			val := b[vstart:i]
			child := n.keys[jsonKey(kraw)]
			if child == nil || !child.remove {
				if child != nil {
					val = prune(val, child)
				}
				if !first {
					out = append(out, ',')
				}
				first = false
				out = append(out, kraw...)
				out = append(out, ':')
				out = append(out, val...)
			}
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
			}
		}
		return append(out, '}')
	case '[':
		out := []byte{'['}
		i = skipWS(b, i+1)
		for e := 0; i < len(b) && b[i] != ']'; e++ {
			vstart := i
			if i = skipValue(b, i); i < 0 {
				return b
			}
			val := b[vstart:i]
			if child := n.elems[e]; child != nil {
				val = prune(val, child)
			}
			if e > 0 {
				out = append(out, ',')
			}
			out = append(out, val...)
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
			}
		}
		return append(out, ']')
	}
	return b
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonKey decodes a quoted property name.
func jsonKey(raw []byte) string {
	if len(raw) < 2 {
		return ""
	}
	if !strings.Contains(string(raw), `\`) {
		return string(raw[1 : len(raw)-1])
	}
	var k string
	if json.Unmarshal(raw, &k) != nil {
		return ""
	}
	return k
}

// removalPath returns where, below the root type typ, a parse error points
// at a member to remove: its library path plus the member the diagnostics
// name (unknown or repeated choice fields).
func removalPath(typ string, le libError) ([]pathSeg, bool) {
	rel, ok := strings.CutPrefix(le.path, typ)
	if !ok || (rel != "" && rel[0] != '.') {
		return nil, false
	}
	segs, ok := splitPath(strings.TrimPrefix(rel, "."))
	if !ok {
		return nil, false
	}
	if le.details == "unknown field" || strings.HasPrefix(le.details, "cannot accept multiple values for ") {
		k, err := strconv.Unquote(le.diag)
		if err != nil {
			return nil, false
		}
		segs = append(segs, pathSeg{key: k})
	}
	return segs, len(segs) > 0
}

// exprOf renders segs the way issues are located: "_x" members as x.
func exprOf(prefix string, segs []pathSeg) string {
	for len(segs) > 0 && segs[len(segs)-1].key == "" {
		segs = segs[:len(segs)-1]
	}
	var sb strings.Builder
	sb.WriteString(prefix)
	for _, s := range segs {
		if s.key == "" {
			sb.WriteString("[" + strconv.Itoa(s.idx) + "]")
			continue
		}
		sb.WriteString("." + strings.TrimPrefix(s.key, "_"))
	}
	return sb.String()
}

// under reports whether expression is at or below one of the roots.
func under(expression string, roots []string) bool {
	for _, r := range roots {
		if rest, ok := strings.CutPrefix(expression, r); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return true
		}
	}
	return false
}
