package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
)

// checkpoint is the record of what a load has done, so that running the
// same command again sends only the rest. It is a file of JSON lines, one
// appended (and synced) per finished unit:
//
//	{"target":"http://host/fhir","file":"/abs/a.json.gz","size":38544,"mtime":1700000000000000000,"done":true}
//	{"target":"...","file":"/abs/Observation.ndjson","size":...,"mtime":...,"lines":[[1,200],[401,600]]}
//
// Records count only for the same target (the server or store loaded
// into) and for the file as it was then (size and modification time); a
// changed file is loaded again from the start. A cut-off last line (a
// crash while writing) is ignored. A nil *checkpoint records nothing.
type checkpoint struct {
	path, target string
	mu           sync.Mutex
	f            *os.File
	files        map[string]*fileRecord
}

type fileRecord struct {
	size, mtime int64
	done        bool
	lines       [][2]int // sorted, disjoint, inclusive
}

type checkpointLine struct {
	Target string   `json:"target"`
	File   string   `json:"file"`
	Size   int64    `json:"size"`
	MTime  int64    `json:"mtime"`
	Done   bool     `json:"done,omitempty"`
	Lines  [][2]int `json:"lines,omitempty"`
}

func openCheckpoint(path, target string) (*checkpoint, error) {
	c := &checkpoint{path: path, target: target, files: map[string]*fileRecord{}}
	if err := c.read(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	c.f = f
	return c, nil
}

func (c *checkpoint) read() error {
	f, err := os.Open(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var l checkpointLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Target != c.target || l.File == "" {
			continue // another target's, or cut off
		}
		c.apply(l)
	}
	return sc.Err()
}

// apply adds what l records to the file's record; a record of the file
// as it was before (another size or time) starts it afresh.
func (c *checkpoint) apply(l checkpointLine) {
	r := c.files[l.File]
	if r == nil || r.size != l.Size || r.mtime != l.MTime {
		r = &fileRecord{size: l.Size, mtime: l.MTime}
		c.files[l.File] = r
	}
	r.done = r.done || l.Done
	for _, rg := range l.Lines {
		r.lines = addRange(r.lines, rg)
	}
}

func (c *checkpoint) close() error {
	if c == nil {
		return nil
	}
	return c.f.Close()
}

// record finds f's record, as f is now.
func (c *checkpoint) record(f *inputFile) *fileRecord {
	r := c.files[f.path]
	if r == nil || r.size != f.size || r.mtime != f.modTime.UnixNano() {
		return nil
	}
	return r
}

// fileDone reports whether f was loaded completely.
func (c *checkpoint) fileDone(f *inputFile) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.record(f)
	return r != nil && r.done
}

// lineDone reports whether line no of NDJSON file f was loaded.
func (c *checkpoint) lineDone(f *inputFile, no int) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.record(f)
	if r == nil {
		return false
	}
	i, _ := slices.BinarySearchFunc(r.lines, no, func(rg [2]int, no int) int {
		switch {
		case rg[1] < no:
			return -1
		case rg[0] > no:
			return 1
		}
		return 0
	})
	return i < len(r.lines) && r.lines[i][0] <= no && no <= r.lines[i][1]
}

// done records f as loaded completely.
func (c *checkpoint) done(f *inputFile) error {
	if c == nil {
		return nil
	}
	return c.append(checkpointLine{File: f.path, Done: true}, f)
}

// linesDone records lines of NDJSON file f as loaded.
func (c *checkpoint) linesDone(f *inputFile, lines []int) error {
	if c == nil || len(lines) == 0 {
		return nil
	}
	var rs [][2]int
	for _, no := range lines {
		if n := len(rs); n > 0 && rs[n-1][1] == no-1 {
			rs[n-1][1] = no
			continue
		}
		rs = append(rs, [2]int{no, no})
	}
	return c.append(checkpointLine{File: f.path, Lines: rs}, f)
}

func (c *checkpoint) append(l checkpointLine, f *inputFile) error {
	l.Target, l.Size, l.MTime = c.target, f.size, f.modTime.UnixNano()
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := c.f.Sync(); err != nil {
		return err
	}
	c.apply(l)
	return nil
}

// addRange merges rg into the sorted, disjoint ranges rs.
func addRange(rs [][2]int, rg [2]int) [][2]int {
	if rg[0] > rg[1] {
		return rs
	}
	out := make([][2]int, 0, len(rs)+1)
	for _, r := range rs {
		switch {
		case r[1] < rg[0]-1 || r[0] > rg[1]+1: // apart
			out = append(out, r)
		default: // overlapping or adjacent: absorb
			rg = [2]int{min(r[0], rg[0]), max(r[1], rg[1])}
		}
	}
	out = append(out, rg)
	slices.SortFunc(out, func(a, b [2]int) int { return a[0] - b[0] })
	return out
}
