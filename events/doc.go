// Package events connects telefhir to its NATS JetStream event backbone:
// either an external NATS (cluster) named by URL, or, in the embedded
// default, a nats-server running inside this process with JetStream stored
// on disk and no TCP listener (so it never collides with another NATS on
// the machine).
//
//	bus, err := events.Open(ctx, events.Config{DataDir: "./data/nats"})
//	defer bus.Close()
//	js := bus.JetStream()
package events
