// Command telefhir is the telefhir FHIR R4 server and its tools.
//
//	telefhir serve     run the server (embedded store and NATS by default)
//	telefhir migrate   apply the store's schema migrations and exit
//	telefhir audit     verify the audit trail, or export and purge old records
//	telefhir synth     generate synthetic patients and vital signs, to files or a store
//	telefhir reindex   rebuild the search index after search-parameter definitions change
//	telefhir token     mint a bearer token for a dev user (curl, scripts)
//	telefhir clients   list, add and remove registered OAuth clients
//	telefhir load      load Bundles and NDJSON files into a server or a store
//	telefhir version   print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}

type command struct {
	name, help string
	run        func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the FHIR server", runServe},
		{"migrate", "apply the store's schema migrations and exit", runMigrate},
		{"load", "load transaction, batch and collection Bundles and NDJSON files into a running server or straight into the store", runLoad},
		{"audit", "verify the audit trail's hash chain (audit verify), or export and purge records past retention (audit purge)", runAudit},
		{"synth", "load a synthetic data set (patients, devices, encounters, vital signs) into the store, or write it as NDJSON", runSynth},
		{"reindex", "rebuild the search index of stored resources with this build's search-parameter definitions", runReindex},
		{"token", "mint a bearer token for a dev user, for curl and scripts", runToken},
		{"clients", "list, add and remove registered OAuth clients (list|add|remove)", runClients},
		{"version", "print the version", func(_ context.Context, _ []string, w io.Writer) error {
			_, err := fmt.Fprintln(w, buildVersion())
			return err
		}},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: telefhir <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\nrun 'telefhir <command> -h' for the flags of a command")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		}
		fmt.Fprintf(stderr, "telefhir %s: %v\n", c.name, err)
		return 1
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "telefhir: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}
