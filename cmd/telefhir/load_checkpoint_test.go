package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestAddRange(t *testing.T) {
	var rs [][2]int
	for _, rg := range [][2]int{{10, 12}, {1, 2}, {3, 3}, {20, 25}, {13, 19}, {30, 29}} {
		rs = addRange(rs, rg)
	}
	if want := [][2]int{{1, 3}, {10, 25}}; !reflect.DeepEqual(rs, want) {
		t.Errorf("ranges %v, want %v", rs, want)
	}
}

func TestCheckpointFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt")
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &inputFile{path: "/data/a.json", size: 10, modTime: mtime}
	b := &inputFile{path: "/data/b.ndjson", size: 20, modTime: mtime}
	c, err := openCheckpoint(path, "http://one")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.done(a); err != nil {
		t.Fatal(err)
	}
	if err := c.linesDone(b, []int{1, 2, 3, 7}); err != nil {
		t.Fatal(err)
	}
	c.close()
	// A crash in the middle of a record leaves a cut-off line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"target":"http://one","file":"/data/c.json","si`)
	f.Close()

	c, err = openCheckpoint(path, "http://one")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if !c.fileDone(a) || c.fileDone(b) {
		t.Errorf("fileDone: a %v b %v, want true false", c.fileDone(a), c.fileDone(b))
	}
	for no, want := range map[int]bool{1: true, 3: true, 4: false, 7: true, 8: false} {
		if got := c.lineDone(b, no); got != want {
			t.Errorf("lineDone(b, %d) = %v", no, got)
		}
	}
	changed := &inputFile{path: a.path, size: 11, modTime: mtime}
	if c.fileDone(changed) {
		t.Errorf("a changed file counts as loaded")
	}
	other, err := openCheckpoint(path, "http://two")
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	if other.fileDone(a) {
		t.Errorf("a file loaded into another target counts as loaded")
	}
	var none *checkpoint
	if none.fileDone(a) || none.lineDone(b, 1) || none.done(a) != nil {
		t.Errorf("a nil checkpoint records something")
	}
}
