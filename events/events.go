package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config selects the NATS to use.
type Config struct {
	// URL of an external NATS server or cluster (comma-separated). Empty
	// means run an embedded server.
	URL string
	// DataDir is where the embedded server keeps JetStream data.
	DataDir string
	// Listen, for the embedded server only, is an optional host:port on
	// which it also accepts TCP clients. Empty means in-process only.
	Listen string
	// Logger receives connection state changes.
	Logger *slog.Logger
}

// Bus is a live connection to NATS with JetStream.
type Bus struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	server *server.Server // nil when external
}

// Open connects to NATS (starting the embedded server when cfg.URL is
// empty) and checks that JetStream answers.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	b := &Bus{}
	opts := []nats.Option{
		nats.Name("telefhir"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "server", nc.ConnectedServerName())
		}),
	}
	url := cfg.URL
	if url == "" {
		ns, err := startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		b.server = ns
		opts = append(opts, nats.InProcessServer(ns))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("events: connect to nats: %w", err)
	}
	b.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("events: jetstream: %w", err)
	}
	b.js = js
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(actx); err != nil {
		b.Close()
		return nil, fmt.Errorf("events: jetstream is not available on this NATS (start nats-server with -js): %w", err)
	}
	return b, nil
}

func startEmbedded(cfg Config) (*server.Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("events: the embedded NATS needs a data directory")
	}
	o := &server.Options{
		ServerName: "telefhir-embedded",
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		DontListen: true,
		NoSigs:     true,
		NoLog:      true,
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("events: nats listen address %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("events: nats listen port %q: %w", port, err)
		}
		o.DontListen = false
		o.Host, o.Port = host, p
	}
	ns, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("events: embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("events: embedded nats did not become ready within 10s")
	}
	return ns, nil
}

// Conn is the NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream is the JetStream API on the connection.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Embedded reports whether the NATS server runs inside this process.
func (b *Bus) Embedded() bool { return b.server != nil }

// Close drains the connection and stops the embedded server, if any.
func (b *Bus) Close() {
	if b.nc != nil {
		_ = b.nc.Drain()
		b.nc.Close()
	}
	if b.server != nil {
		b.server.Shutdown()
		b.server.WaitForShutdown()
	}
}
