package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/telefhir/telefhir/conformance"
	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/store/postgres"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/smart"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/oauthstore/pgstore"
	"github.com/telefhir/telefhir/smart/oauthstore/sqlitestore"
)

// authConfig is the authorization part of the configuration.
type authConfig struct {
	Auth              string
	OIDCIssuer        string
	OIDCClientID      string
	OIDCClientSecret  string
	OIDCRoleClaim     string
	OIDCFHIRUserClaim string
	OIDCPatientsClaim string
	OIDCDefaultRole   string
	DevPassword       string
	DevAutoApprove    string
}

func authSettings() []setting {
	str := func(f func(*config) *string) func(*config, string) error {
		return func(c *config, v string) error { *f(c) = v; return nil }
	}
	return []setting{
		{"auth", "TELEFHIR_AUTH", "on", "on: every FHIR request needs a SMART bearer token; off: no authorization at all (local experiments only)", str(func(c *config) *string { return &c.Auth })},
		{"oidc-issuer", "TELEFHIR_OIDC_ISSUER", "", "upstream OpenID Connect issuer URL; empty runs the built-in dev identity", str(func(c *config) *string { return &c.OIDCIssuer })},
		{"oidc-client-id", "TELEFHIR_OIDC_CLIENT_ID", "", "this server's client id at the upstream provider", str(func(c *config) *string { return &c.OIDCClientID })},
		{"oidc-client-secret", "TELEFHIR_OIDC_CLIENT_SECRET", "", "this server's client secret at the upstream provider", str(func(c *config) *string { return &c.OIDCClientSecret })},
		{"oidc-role-claim", "TELEFHIR_OIDC_ROLE_CLAIM", "telefhir_role", "ID token claim naming the user's role (practitioner, patient, admin, auditor)", str(func(c *config) *string { return &c.OIDCRoleClaim })},
		{"oidc-fhiruser-claim", "TELEFHIR_OIDC_FHIRUSER_CLAIM", "fhirUser", "ID token claim naming the user's FHIR resource", str(func(c *config) *string { return &c.OIDCFHIRUserClaim })},
		{"oidc-patients-claim", "TELEFHIR_OIDC_PATIENTS_CLAIM", "telefhir_patients", "ID token claim listing the patients a user may pick", str(func(c *config) *string { return &c.OIDCPatientsClaim })},
		{"oidc-default-role", "TELEFHIR_OIDC_DEFAULT_ROLE", "", "role of upstream users without a role claim (empty: refuse them)", str(func(c *config) *string { return &c.OIDCDefaultRole })},
		{"dev-password", "TELEFHIR_DEV_PASSWORD", "", "dev identity: password of the demo users and secret of demo-confidential (default: random at each start, printed)", str(func(c *config) *string { return &c.DevPassword })},
		{"dev-auto-approve", "TELEFHIR_DEV_AUTO_APPROVE", "", "dev identity only: sign every authorization in as this demo user and skip consent", str(func(c *config) *string { return &c.DevAutoApprove })},
	}
}

// validateAuth reports every problem with the authorization settings.
func (c *config) validateAuth() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Auth != "on" && c.Auth != "off" {
		bad("--auth must be on or off, not %q", c.Auth)
	}
	if c.OIDCIssuer != "" {
		if c.OIDCClientID == "" {
			bad("--oidc-issuer needs --oidc-client-id")
		}
		if c.DevAutoApprove != "" || c.DevPassword != "" {
			bad("--dev-password and --dev-auto-approve belong to the dev identity; they cannot be combined with --oidc-issuer")
		}
	}
	switch access.Role(c.OIDCDefaultRole) {
	case "", access.RolePractitioner, access.RolePatient, access.RoleAdmin, access.RoleAuditor:
	default:
		bad("--oidc-default-role %q is not practitioner, patient, admin or auditor", c.OIDCDefaultRole)
	}
	if c.DevAutoApprove != "" {
		if _, ok := identity.NewDev("x").User(c.DevAutoApprove); !ok {
			bad("--dev-auto-approve %q is not a dev user", c.DevAutoApprove)
		}
	}
	return errs
}

// openOAuthStore keeps the authorization server's state in the FHIR
// store's database.
func openOAuthStore(st migratingStore) (oauthstore.Store, error) {
	switch s := st.(type) {
	case *postgres.Store:
		return pgstore.New(s), nil
	case *sqlite.Store:
		return sqlitestore.New(s), nil
	}
	return nil, fmt.Errorf("no OAuth store for %T", st)
}

func randomPassword() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// buildAuth builds the authorization server (nil with --auth off) and
// tells the operator on stdout how to use it: the dev users and demo
// clients, or that authorization is off.
func buildAuth(ctx context.Context, c *config, st migratingStore, svc *fhir.Service, stdout io.Writer) (*smart.Server, *conformance.Security, error) {
	log := newLogger(c)
	if c.Auth == "off" {
		log.Warn("AUTHORIZATION IS OFF (TELEFHIR_AUTH=off): every client may read and write every resource; use for local experiments only")
		fmt.Fprintf(stdout, "  auth:   OFF — every request is allowed (TELEFHIR_AUTH=off); never expose this server\n")
		return nil, &conformance.Security{
			CORS:        true,
			Description: "WARNING: authorization is OFF on this server (TELEFHIR_AUTH=off): no OAuth, every request is allowed. For local experiments only.",
		}, nil
	}
	ost, err := openOAuthStore(st)
	if err != nil {
		return nil, nil, err
	}
	cfg := smart.Config{BaseURL: c.BaseURL, Store: ost, FHIR: svc, Logger: log}
	if c.OIDCIssuer != "" {
		up, err := identity.NewUpstream(ctx, identity.UpstreamConfig{
			Issuer: c.OIDCIssuer, ClientID: c.OIDCClientID, ClientSecret: c.OIDCClientSecret,
			RedirectURL: c.BaseURL + "/auth/callback", RoleClaim: c.OIDCRoleClaim, FHIRUserClaim: c.OIDCFHIRUserClaim,
			PatientsClaim: c.OIDCPatientsClaim, DefaultRole: access.Role(c.OIDCDefaultRole),
		})
		if err != nil {
			return nil, nil, err
		}
		cfg.Upstream = up
	} else {
		pw := c.DevPassword
		if pw == "" {
			pw = randomPassword()
		}
		cfg.Dev = identity.NewDev(pw)
		cfg.AutoApprove = c.DevAutoApprove
		if err := smart.SeedDev(ctx, svc, ost, pw, time.Now()); err != nil {
			return nil, nil, err
		}
		printDev(stdout, c, pw)
	}
	srv, err := smart.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if c.OIDCIssuer != "" {
		fmt.Fprintf(stdout, "  auth:   SMART on FHIR, users sign in at %s\n", c.OIDCIssuer)
	}
	return srv, srv.Security(), nil
}

func printDev(w io.Writer, c *config, pw string) {
	var b strings.Builder
	fmt.Fprintf(&b, "  auth:   SMART on FHIR with the DEV IDENTITY — demo users and clients, not for production\n")
	fmt.Fprintf(&b, "          discovery %s/.well-known/smart-configuration, EHR launcher %s/auth/launcher\n", c.BaseURL, c.BaseURL)
	fmt.Fprintf(&b, "          dev users (password %s):", pw)
	for _, u := range identity.DevUsers() {
		fmt.Fprintf(&b, " %s", u.ID)
	}
	fmt.Fprintf(&b, "\n          demo clients: %s (public), %s (secret: the dev password)\n", smart.DevPublicClient, smart.DevConfidentialClient)
	fmt.Fprintf(&b, "          a token for curl: telefhir token --user practitioner --scope 'user/*.cruds'\n")
	if c.DevAutoApprove != "" {
		fmt.Fprintf(&b, "          AUTO-APPROVE: every authorization signs in as %q without consent\n", c.DevAutoApprove)
	}
	_, _ = io.WriteString(w, b.String())
}

// loadToolConfig parses a tool command's own flags (already defined on fs)
// together with the shared settings it takes; those go through loadConfig,
// so they read the same TELEFHIR_* variables and are validated as for
// serve.
func loadToolConfig(fs *flag.FlagSet, shared, args []string, getenv func(string) string) (*config, error) {
	load := addShared(fs, shared)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return load(fs.Name(), getenv)
}

// storeShared are the shared settings of the commands that work on the
// store: where it is, and the base URL tokens are for.
var storeShared = []string{"data", "database-url", "base-url"}

// openOAuth opens and migrates the store and returns its OAuth state.
func openOAuth(ctx context.Context, c *config) (migratingStore, oauthstore.Store, error) {
	st, desc, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("migrate %s store: %w", desc, err)
	}
	ost, err := openOAuthStore(st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, ost, nil
}

// runToken mints a bearer token for a dev user, for curl and scripts.
func runToken(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	user := fs.String("user", "", "dev user: practitioner, patient, admin or auditor")
	sc := fs.String("scope", "", "scopes, e.g. 'user/*.cruds' or 'patient/Observation.rs'")
	patient := fs.String("patient", "", "patient in context (a patient user's own patient is always used)")
	encounter := fs.String("encounter", "", "encounter in context")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	c, err := loadToolConfig(fs, storeShared, args, os.Getenv)
	if err != nil {
		return err
	}
	u, ok := identity.NewDev("x").User(*user)
	var errs []error
	if !ok {
		errs = append(errs, fmt.Errorf("--user %q is not a dev user (practitioner, patient, admin, auditor)", *user))
	}
	if strings.TrimSpace(*sc) == "" {
		errs = append(errs, errors.New("--scope is required"))
	}
	if c.OIDCIssuer != "" {
		errs = append(errs, errors.New("telefhir token mints tokens for the dev identity's users; with TELEFHIR_OIDC_ISSUER set, get tokens through OAuth (Backend Services for scripts)"))
	}
	if *ttl <= 0 || *ttl > 24*time.Hour {
		errs = append(errs, errors.New("--ttl must be positive and at most 24h"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	st, ost, err := openOAuth(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, err := smart.Mint(ctx, ost, u, *sc, *patient, *encounter, *ttl, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
