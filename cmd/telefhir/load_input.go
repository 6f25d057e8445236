package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/internal/jsonscan"
)

// inputFile is one file to load.
type inputFile struct {
	path    string // absolute
	rel     string // as named or found, for messages
	size    int64
	modTime time.Time
	ndjson  bool
	gz      bool

	failed atomic.Bool
	// pending counts its units in flight, plus one until all are sent.
	mu      sync.Mutex
	pending int
	done    bool
}

func (f *inputFile) started() {
	f.mu.Lock()
	f.pending++
	f.mu.Unlock()
}

// dispatched says that every unit of f has been handed out.
func (f *inputFile) dispatched() {
	f.mu.Lock()
	f.pending++ // balanced by the finish that follows it
	f.mu.Unlock()
}

// finish ends a unit (or the dispatching) and reports whether that
// completed f: everything sent and answered.
func (f *inputFile) finish() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending--
	if f.pending == 0 && !f.done {
		f.done = true
		return true
	}
	return false
}

// findInputs lists the files to load under paths, in a stable order:
// files named directly (which must be of a known kind), and the files of a
// known kind below each folder, in lexical order. ignored counts the
// others in folders.
func findInputs(paths []string) (files []*inputFile, ignored int, err error) {
	seen := map[string]bool{}
	add := func(path string, fi fs.FileInfo) error {
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		if seen[abs] {
			return nil
		}
		seen[abs] = true
		f := &inputFile{path: abs, rel: path, size: fi.Size(), modTime: fi.ModTime()}
		f.ndjson, f.gz, _ = kindOf(path)
		files = append(files, f)
		return nil
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, 0, err
		}
		if !fi.IsDir() {
			if _, _, ok := kindOf(p); !ok {
				return nil, 0, fmt.Errorf("%s: not a .json, .json.gz, .ndjson or .ndjson.gz file", p)
			}
			if err := add(p, fi); err != nil {
				return nil, 0, err
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if _, _, ok := kindOf(path); !ok {
				ignored++
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return add(path, fi)
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return files, ignored, nil
}

// kindOf classifies a file by its name.
func kindOf(path string) (ndjson, gz, ok bool) {
	name := strings.ToLower(filepath.Base(path))
	if gz = strings.HasSuffix(name, ".gz"); gz {
		name = strings.TrimSuffix(name, ".gz")
	}
	switch {
	case strings.HasSuffix(name, ".ndjson"):
		return true, gz, true
	case strings.HasSuffix(name, ".json"):
		return false, gz, true
	}
	return false, false, false
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// open opens f for reading, inflating gzip; read counts the bytes of the
// file consumed so far.
func (f *inputFile) open() (r io.Reader, read *countingReader, closeFile func() error, err error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, nil, nil, err
	}
	cr := &countingReader{r: fh}
	if !f.gz {
		return cr, cr, fh.Close, nil
	}
	zr, err := gzip.NewReader(cr)
	if err != nil {
		fh.Close()
		return nil, nil, nil, fmt.Errorf("not gzip: %w", err)
	}
	return zr, cr, fh.Close, nil
}

// units reads f and hands its units to send, in order: the Bundle, or
// chunks of Batch NDJSON lines not loaded before. Lines that are not a
// resource fail on their own.
func (l *loader) units(ctx context.Context, f *inputFile, send func(*unit)) error {
	r, read, closeFile, err := f.open()
	if err != nil {
		return err
	}
	defer closeFile()
	if !f.ndjson {
		body, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		b, err := asTransaction(body)
		if err != nil {
			l.doneBytes.Add(f.size)
			return err
		}
		send(&unit{file: f, bundle: b, weight: f.size})
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	var entries [][]byte
	var lineNos []int
	var types []string
	var counted int64 // file bytes attributed to units so far
	flush := func() {
		w := min(read.n.Load(), f.size) - counted
		counted += w
		if len(entries) == 0 {
			l.doneBytes.Add(w)
			return
		}
		send(&unit{file: f, bundle: bundleOf("transaction", entries), entries: entries, lineNos: lineNos, types: types, weight: w})
		entries, lineNos, types = nil, nil, nil
	}
	for no := 1; sc.Scan(); no++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || l.ckpt.lineDone(f, no) {
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		typ, id, err := typeAndID(line)
		if err != nil {
			l.fail(f, fmt.Sprintf("%s line %d", f.rel, no), err.Error())
			continue
		}
		entries = append(entries, resourceEntry(nil, "", line, typ, id))
		lineNos = append(lineNos, no)
		types = append(types, typ)
		if len(entries) == l.opts.Batch {
			flush()
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	flush()
	l.doneBytes.Add(f.size - counted)
	return nil
}

// resourceEntry appends the entry that loads resource res of type typ: a
// PUT to Type/id when it has an id (so that references to it by id
// hold), a POST otherwise.
func resourceEntry(dst []byte, fullURL string, res []byte, typ, id string) []byte {
	dst = append(dst, '{')
	if fullURL != "" {
		dst = append(dst, `"fullUrl":`...)
		dst = strconv.AppendQuote(dst, fullURL)
		dst = append(dst, ',')
	}
	dst = append(dst, `"resource":`...)
	dst = append(dst, res...)
	if id == "" {
		dst = append(dst, `,"request":{"method":"POST","url":"`...)
		dst = append(dst, typ...)
	} else {
		dst = append(dst, `,"request":{"method":"PUT","url":"`...)
		dst = append(dst, typ+"/"+id...)
	}
	return append(dst, `"}}`...)
}

// typeAndID reads the resourceType and id of a resource's JSON.
func typeAndID(b []byte) (typ, id string, err error) {
	sc := jsonscan.Scanner{B: b}
	if sc.Peek() != '{' {
		return "", "", errors.New("not a JSON object")
	}
	err = sc.Object(0, func(name string) error {
		switch name {
		case "resourceType":
			if sc.Peek() == '"' {
				typ, err = sc.String()
				return err
			}
		case "id":
			if sc.Peek() == '"' {
				id, err = sc.String()
				return err
			}
		}
		return sc.Skip(1)
	})
	if err == nil {
		err = sc.End()
	}
	switch {
	case err != nil:
		return "", "", fmt.Errorf("not valid JSON: %w", err)
	case !resource.IsType(typ):
		return "", "", fmt.Errorf("resourceType %q is not an R4 resource type", typ)
	case id != "" && !resource.ValidID(id):
		return "", "", fmt.Errorf("id %q is not a valid resource id", id)
	}
	return typ, id, nil
}

// bundleOf is a Bundle of type typ of entries (each an entry's JSON).
func bundleOf(typ string, entries [][]byte) []byte {
	n := 64
	for _, e := range entries {
		n += len(e) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"resourceType":"Bundle","type":"`...)
	b = append(b, typ...)
	b = append(b, `","entry":[`...)
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, "]}"...)
}

// asTransaction is what to send for a .json file: a transaction or batch
// Bundle as it is; a collection Bundle as a transaction that loads its
// resources (PUT Type/id for those with an id, POST otherwise, fullUrls
// kept so that references between them resolve); any other resource as a
// transaction of that one resource.
func asTransaction(body []byte) ([]byte, error) {
	var rt, typ string
	var entries [][]byte
	sc := jsonscan.Scanner{B: body}
	if sc.Peek() != '{' {
		return nil, errors.New("not a JSON object")
	}
	err := sc.Object(0, func(name string) error {
		var err error
		switch {
		case name == "resourceType" && sc.Peek() == '"':
			rt, err = sc.String()
		case name == "type" && sc.Peek() == '"':
			typ, err = sc.String()
		case name == "entry" && sc.Peek() == '[':
			err = sc.Array(1, func(int) error {
				v, err := sc.Value(2)
				entries = append(entries, v)
				return err
			})
		default:
			err = sc.Skip(1)
		}
		return err
	})
	if err == nil {
		err = sc.End()
	}
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	switch {
	case rt != "Bundle":
		if _, id, err := typeAndID(body); err != nil {
			return nil, err
		} else {
			return bundleOf("transaction", [][]byte{resourceEntry(nil, "", body, rt, id)}), nil
		}
	case typ == "transaction" || typ == "batch":
		return body, nil
	case typ != "collection":
		return nil, fmt.Errorf("a Bundle of type %q cannot be loaded (transaction, batch and collection can)", typ)
	}
	out := make([][]byte, 0, len(entries))
	for i, e := range entries {
		fullURL, res, err := collectionEntry(e)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if res == nil {
			continue
		}
		t, id, err := typeAndID(res)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		out = append(out, resourceEntry(nil, fullURL, res, t, id))
	}
	return bundleOf("transaction", out), nil
}

// collectionEntry reads the fullUrl and resource of a collection entry.
func collectionEntry(e []byte) (fullURL string, res []byte, err error) {
	sc := jsonscan.Scanner{B: e}
	if sc.Peek() != '{' {
		return "", nil, errors.New("not a JSON object")
	}
	err = sc.Object(0, func(name string) error {
		switch {
		case name == "fullUrl" && sc.Peek() == '"':
			fullURL, err = sc.String()
			return err
		case name == "resource" && sc.Peek() == '{':
			res, err = sc.Value(1)
			return err
		}
		return sc.Skip(1)
	})
	return fullURL, res, err
}
