// Package outbox relays committed changes from the store's outbox to the
// JetStream stream of change events.
//
// Every write stores an outbox row in the same database transaction as the
// version (fhir/store.Outbox), so a change event exists exactly when the
// write committed. The Relay publishes pending rows in commit order with
// Nats-Msg-Id set to the version's identity (Type/id/_history/vid) and
// deletes them only after JetStream has acknowledged every message: a
// crash, a NATS outage or a restart loses nothing, and a batch published
// twice (a crash between the ack and the delete) is dropped by the
// stream's duplicate window.
//
//	if err := outbox.EnsureStream(ctx, js, outbox.StreamConfig{}); err != nil { ... }
//	relay := &outbox.Relay{Store: st, JS: js}
//	svc.Store = outbox.Notify(st, relay) // wake the relay on each commit
//	go relay.Run(ctx)
package outbox
