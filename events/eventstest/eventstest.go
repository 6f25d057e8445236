// Package eventstest runs a real NATS server with JetStream for tests: in
// this process, on a random loopback port, storing JetStream data under
// the test's temporary directory, and restartable on the same port and
// data (to test outages).
//
//	ns := eventstest.Start(t)
//	bus := ns.Connect(t) // an events.Bus connected by URL, reconnecting forever
//	ns.Restart(t)        // the bus reconnects; streams survive
package eventstest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/telefhir/telefhir/events"
)

// Server is a NATS server started by Start.
type Server struct {
	ns   *server.Server
	dir  string
	port int
}

// Start starts a server; it is shut down when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{dir: tb.TempDir(), port: server.RANDOM_PORT}
	s.start(tb)
	tb.Cleanup(s.stop)
	return s
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	o := &server.Options{
		ServerName: "eventstest",
		Host:       "127.0.0.1",
		Port:       s.port,
		JetStream:  true,
		StoreDir:   s.dir,
		NoSigs:     true,
		NoLog:      true,
	}
	ns, err := server.NewServer(o)
	if err != nil {
		tb.Fatalf("eventstest: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		tb.Fatal("eventstest: NATS did not become ready within 10s")
	}
	s.ns = ns
	s.port = ns.Addr().(*net.TCPAddr).Port
}

func (s *Server) stop() {
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.ns = nil
	}
}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.ns.ClientURL() }

// Stop shuts the server down (clients start reconnecting).
func (s *Server) Stop() { s.stop() }

// Restart stops the server, if running, and starts it again on the same
// port with the same JetStream data.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.stop()
	s.start(tb)
}

// Connect opens an events.Bus to the server, closed when tb ends.
func (s *Server) Connect(tb testing.TB) *events.Bus {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := events.Open(ctx, events.Config{URL: s.URL()})
	if err != nil {
		tb.Fatalf("eventstest: connect: %v", err)
	}
	tb.Cleanup(b.Close)
	return b
}
