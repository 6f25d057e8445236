package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/telefhir/telefhir/smart"
	"github.com/telefhir/telefhir/smart/oauthstore"
)

// runClients manages registered OAuth clients in the store:
//
//	telefhir clients list
//	telefhir clients add --kind public --redirect-uri https://app/cb --scope 'launch/patient patient/*.rs'
//	telefhir clients remove --id ID
func runClients(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New("usage: telefhir clients list|add|remove [flags] (run 'telefhir clients add -h')")
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("clients "+verb, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	var n smart.NewClient
	var redirects, jwksFile string
	var kind string
	switch verb {
	case "list":
	case "add":
		fs.StringVar(&n.ID, "id", "", "client id (default: random)")
		fs.StringVar(&n.Name, "name", "", "display name shown at consent")
		fs.StringVar(&kind, "kind", "public", "public, symmetric (client_secret_basic) or asymmetric (private_key_jwt)")
		fs.StringVar(&redirects, "redirect-uri", "", "redirect URIs, comma separated (exact match)")
		fs.StringVar(&n.LaunchURL, "launch-url", "", "the app's EHR launch URL")
		fs.StringVar(&n.Scope, "scope", "", "scopes the client may ask for")
		fs.StringVar(&jwksFile, "jwks-file", "", "asymmetric: file holding the client's public JWKS")
		fs.StringVar(&n.JWKSURL, "jwks-url", "", "asymmetric: URL of the client's public JWKS")
	case "remove":
		fs.StringVar(&n.ID, "id", "", "client id to remove (its tokens are revoked)")
	default:
		return fmt.Errorf("unknown clients command %q: list, add or remove", verb)
	}
	c, err := loadToolConfig(fs, storeShared, args, os.Getenv)
	if err != nil {
		return err
	}
	switch kind {
	case "symmetric":
		n.Kind = oauthstore.Symmetric
	case "asymmetric":
		n.Kind = oauthstore.Asymmetric
	default:
		n.Kind = oauthstore.ClientKind(kind)
	}
	if redirects != "" {
		for _, r := range strings.Split(redirects, ",") {
			n.RedirectURIs = append(n.RedirectURIs, strings.TrimSpace(r))
		}
	}
	if jwksFile != "" {
		b, err := os.ReadFile(jwksFile)
		if err != nil {
			return fmt.Errorf("--jwks-file: %w", err)
		}
		n.JWKS = json.RawMessage(b)
	}
	if verb == "remove" && n.ID == "" {
		return errors.New("--id is required")
	}
	st, ost, err := openOAuth(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	switch verb {
	case "list":
		all, err := ost.Clients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT ID\tKIND\tNAME\tREDIRECT URIS\tSCOPE")
		for _, cl := range all {
			name := cl.Name
			if cl.Dev {
				name += " [dev]"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.Kind, name, strings.Join(cl.RedirectURIs, ","), cl.Scope)
		}
		return tw.Flush()
	case "add":
		v, err := smart.Register(ctx, ost, n, time.Now)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "registered client %s (%s)\n", v.ID, v.Kind)
		if v.Secret != "" {
			fmt.Fprintf(stdout, "client secret (shown once, stored only hashed): %s\n", v.Secret)
		}
		return nil
	default:
		if err := ost.DeleteClient(ctx, n.ID); err != nil {
			if errors.Is(err, oauthstore.ErrNotFound) {
				return fmt.Errorf("no client %q", n.ID)
			}
			return err
		}
		_, err := fmt.Fprintf(stdout, "removed client %s; its tokens are revoked\n", n.ID)
		return err
	}
}
