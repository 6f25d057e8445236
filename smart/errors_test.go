package smart_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/internal/server"
	"github.com/telefhir/telefhir/smart"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore/sqlitestore"
)

// TestErrorsLeakNothing: when the database fails, the OAuth endpoints,
// the pages and the FHIR API answer a bare 500 that names no SQL, file
// or driver.
func TestErrorsLeakNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := &fhir.Service{Store: st}
	srv, err := smart.New(ctx, smart.Config{BaseURL: base, Store: sqlitestore.New(st), FHIR: svc, Dev: identity.NewDev("pw"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e, err := server.New(server.Options{Service: svc, Logger: log, Auth: srv, REST: rest.Config{BaseURL: base}})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = e
	ts.Start()
	t.Cleanup(ts.Close)
	if err := st.Close(); err != nil { // the database goes away
		t.Fatal(err)
	}

	check := func(name string, res *http.Response, err error, want int) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		body := strings.ToLower(string(b))
		if res.StatusCode != want {
			t.Errorf("%s: %d, want %d: %s", name, res.StatusCode, want, b)
		}
		for _, leak := range []string{"sql", "database", "db.sqlite", dir, ".go:", "goroutine"} {
			if strings.Contains(body, strings.ToLower(leak)) {
				t.Errorf("%s: body leaks %q: %s", name, leak, b)
			}
		}
	}
	res, err := http.PostForm(base+"/auth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"app"}, "code": {"x"}})
	check("token", res, err, 500)
	res, err = http.Get(base + "/auth/authorize?client_id=app")
	check("authorize", res, err, 500)
	req, _ := http.NewRequest(http.MethodGet, base+"/Patient/x", nil)
	req.Header.Set("Authorization", "Bearer some-token")
	res, err = http.DefaultClient.Do(req)
	check("FHIR read", res, err, 500)
}
