// Package logging builds telefhir's slog loggers: JSON (or text) output
// through a handler that drops attributes whose keys name secrets or
// patient data, so a careless log call cannot leak a token or a resource.
//
//	log := logging.New(os.Stderr, logging.Options{Level: slog.LevelInfo, Format: "json"})
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// Options configure New.
type Options struct {
	Level  slog.Level
	Format string // "json" (default) or "text"
}

// New returns a logger writing to w that redacts sensitive attributes.
func New(w io.Writer, o Options) *slog.Logger {
	ho := &slog.HandlerOptions{Level: o.Level}
	var h slog.Handler
	if o.Format == "text" {
		h = slog.NewTextHandler(w, ho)
	} else {
		h = slog.NewJSONHandler(w, ho)
	}
	return slog.New(Redact(h))
}

// sensitive are substrings of attribute keys that are never logged:
// credentials, and anything that may carry protected health information
// (bodies, queries, names, identifiers).
var sensitive = []string{
	"authorization", "token", "secret", "password", "cookie", "assertion",
	"body", "query", "resource", "name", "identifier", "birth", "address", "phone", "email",
}

// Sensitive reports whether an attribute key is dropped by Redact.
func Sensitive(key string) bool {
	k := strings.ToLower(key)
	for _, s := range sensitive {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// Redact wraps h so that attributes with sensitive keys (see Sensitive) are
// replaced by "[REDACTED]", at any depth of groups.
func Redact(h slog.Handler) slog.Handler { return redactor{h} }

type redactor struct{ next slog.Handler }

func (r redactor) Enabled(ctx context.Context, l slog.Level) bool { return r.next.Enabled(ctx, l) }

func (r redactor) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redact(a))
		return true
	})
	return r.next.Handle(ctx, out)
}

func (r redactor) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = redact(a)
	}
	return redactor{r.next.WithAttrs(clean)}
}

func (r redactor) WithGroup(name string) slog.Handler { return redactor{r.next.WithGroup(name)} }

func redact(a slog.Attr) slog.Attr {
	if Sensitive(a.Key) {
		return slog.String(a.Key, "[REDACTED]")
	}
	if a.Value.Kind() == slog.KindGroup {
		g := a.Value.Group()
		clean := make([]any, len(g))
		for i, x := range g {
			clean[i] = redact(x)
		}
		return slog.Group(a.Key, clean...)
	}
	return a
}
