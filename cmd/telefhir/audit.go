package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/telefhir/telefhir/audit"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/smart/access"
)

// auditShared are the shared settings the audit commands take: the store,
// and the base URL that names the server in the purge's own record.
var auditShared = []string{"data", "database-url", "base-url"}

// errBroken is returned by `audit verify` when the chain is broken, after
// the report is printed.
var errBroken = errors.New("the audit chain is broken")

func runAudit(ctx context.Context, args []string, stdout io.Writer) error {
	usage := "usage: telefhir audit verify [flags] | telefhir audit purge --export DIR [--retention 6y] [--dry-run] [flags]"
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, args[1:], stdout)
	case "purge":
		return runAuditPurge(ctx, args[1:], stdout)
	case "-h", "--help", "help":
		_, err := fmt.Fprintln(stdout, usage)
		return err
	}
	return fmt.Errorf("unknown audit command %q; %s", args[0], usage)
}

// auditFlags parses the shared settings plus a command's own flags.
func auditFlags(name string, args []string, own func(fs *flag.FlagSet)) (*config, error) {
	fs := flag.NewFlagSet("audit "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	if own != nil {
		own(fs)
	}
	load := addShared(fs, auditShared)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return load("audit "+name, os.Getenv)
}

func runAuditVerify(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := auditFlags("verify", args, nil)
	if err != nil {
		return err
	}
	st, desc, err := openMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := audit.Verify(ctx, st)
	if err != nil {
		return err
	}
	if rep.Broken != nil {
		fmt.Fprintf(stdout, "telefhir audit verify: BROKEN at %s\n  checked %d records from position %d before it\n", rep.Broken, rep.Records, rep.From)
		return errBroken
	}
	span := "the chain is empty"
	if rep.Records > 0 {
		span = fmt.Sprintf("positions %d to %d", rep.From, rep.To)
	}
	_, err = fmt.Fprintf(stdout, "telefhir audit verify: the chain is intact: %d records (%s) in the %s store\n  head sha256:%s\n  %d records queued, not yet sealed\n",
		rep.Records, span, desc, hex.EncodeToString(rep.Head), rep.Queued)
	return err
}

func runAuditPurge(ctx context.Context, args []string, stdout io.Writer) error {
	var exportDir, retention string
	var dryRun bool
	c, err := auditFlags("purge", args, func(fs *flag.FlagSet) {
		def := audit.DefaultRetention.String()
		if v := os.Getenv("TELEFHIR_AUDIT_RETENTION"); v != "" {
			def = v
		}
		fs.StringVar(&retention, "retention", def, "how long records are kept: years (6y), days (90d) or a duration (720h) (env TELEFHIR_AUDIT_RETENTION)")
		fs.StringVar(&exportDir, "export", "", "directory the purged records are written to first, as NDJSON (required)")
		fs.BoolVar(&dryRun, "dry-run", false, "say what would be purged, and change nothing")
	})
	if err != nil {
		return err
	}
	ret, err := audit.ParseRetention(retention)
	if err != nil {
		return fmt.Errorf("--retention: %w", err)
	}
	if exportDir == "" && !dryRun {
		return errors.New("--export DIR is required: records are exported before they are purged")
	}
	st, _, err := openMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	cutoff := ret.Cutoff(now)
	through, err := audit.PurgeBound(ctx, st, cutoff)
	if err != nil {
		return err
	}
	if through == 0 {
		_, err := fmt.Fprintf(stdout, "telefhir audit purge: nothing recorded before %s (retention %s)\n", cutoff.UTC().Format(time.RFC3339), ret)
		return err
	}
	if dryRun {
		_, err := fmt.Fprintf(stdout, "telefhir audit purge: would export and purge the chain through position %d (records before %s, retention %s)\n",
			through, cutoff.UTC().Format(time.RFC3339), ret)
		return err
	}

	reg, err := search.NewRegistry(search.Options{BaseURL: c.BaseURL})
	if err != nil {
		return fmt.Errorf("search parameters: %w", err)
	}
	trail, err := audit.New(audit.Options{Store: st, Registry: reg, BaseURL: c.BaseURL, Software: "telefhir " + buildVersion()})
	if err != nil {
		return err
	}
	defer trail.Close()
	path, exp, err := exportAudit(ctx, st, exportDir, through, now)
	if err != nil {
		return err
	}
	n, err := trail.Purge(operatorContext(ctx), exp, filepath.Base(path), cutoff)
	if err != nil {
		return fmt.Errorf("after exporting to %s: %w", path, err)
	}
	if _, err := trail.SealAll(ctx); err != nil {
		return fmt.Errorf("purged %d records; sealing the purge's own record: %w", n, err)
	}
	_, err = fmt.Fprintf(stdout, "telefhir audit purge: exported %d records (positions %d to %d) to %s (sha256:%s) and purged %d\n",
		exp.Records, exp.From, exp.Through, path, hex.EncodeToString(exp.SHA256), n)
	return err
}

// exportAudit writes the chain through position through to a new file in
// dir and makes it durable before anything is purged.
func exportAudit(ctx context.Context, st store.Store, dir string, through int64, now time.Time) (string, audit.Exported, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", audit.Exported{}, fmt.Errorf("export directory: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("auditevents-through-%d-%s.ndjson", through, now.UTC().Format("20060102T150405Z")))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", audit.Exported{}, fmt.Errorf("export file: %w", err)
	}
	exp, err := audit.Export(ctx, st, f, through)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(path)
		return "", audit.Exported{}, fmt.Errorf("export to %s: %w", path, err)
	}
	return path, exp, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// operatorContext names the operating-system user who runs the command as
// the actor of the purge's record.
func operatorContext(ctx context.Context) context.Context {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return access.WithGrant(ctx, &access.Grant{Subject: "os:" + name, Role: access.RoleAdmin})
}
