package events

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestEmbeddedJetStreamPersists starts the embedded server, stores a
// message in a stream, restarts, and reads it back: the embedded default
// keeps its JetStream data on disk.
func TestEmbeddedJetStreamPersists(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()

	b, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Embedded() {
		t.Fatal("Embedded() = false for an embedded server")
	}
	s, err := b.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.JetStream().Publish(ctx, "t.one", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = s
	b.Close()

	b, err = Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, err := b.JetStream().Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "hello" {
		t.Fatalf("after restart got %q, want hello", msg.Data)
	}
}

func TestEmbeddedNeedsDataDir(t *testing.T) {
	if _, err := Open(context.Background(), Config{}); err == nil {
		t.Fatal("Open with no URL and no data dir succeeded")
	}
}
