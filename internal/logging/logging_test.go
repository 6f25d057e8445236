package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactsSensitiveKeys(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, Options{Level: slog.LevelDebug})
	log.With("access_token", "tok-abc").Info("hello",
		"Authorization", "Bearer sekrit",
		"client_secret", "s3",
		slog.Group("req", "body", `{"name":"Jane Doe"}`, "query", "name=Doe", "status", 200),
		"route", "/:type/:id",
	)
	out := buf.String()
	for _, leak := range []string{"tok-abc", "sekrit", "s3\"", "Jane Doe", "name=Doe"} {
		if strings.Contains(out, leak) {
			t.Errorf("log output leaks %q: %s", leak, out)
		}
	}
	for _, keep := range []string{`"route":"/:type/:id"`, `"status":200`, `"msg":"hello"`} {
		if !strings.Contains(out, keep) {
			t.Errorf("log output lost %s: %s", keep, out)
		}
	}
}
