// Package subscriptions delivers FHIR Subscription notifications: R4
// criteria subscriptions (criteria = a search) and Subscriptions Backport
// IG topic subscriptions (criteria = a topic canonical, narrowed by
// backport-filter-criteria), over rest-hook and websocket channels.
//
// The flow, on every node:
//
//		store outbox ──relay──► FHIR_CHANGES ──matcher──► SUB_EVENTS (one log per subscription)
//		                                                    │
//		                                   rest-hook deliverers (8 partitions) · websocket hub
//
//	  - Subscriptions are created through the FHIR API; Manager is the
//	    fhir.WriteHook for Subscription that validates criteria, filters and
//	    channel (an OperationOutcome naming the location otherwise), sets the
//	    status a client may ask for and snapshots the creator's SMART grant.
//	  - The matcher consumes the change stream in order, one node at a time
//	    (a durable consumer with a pinned priority group), keeps an index of
//	    subscriptions bucketed by resource type and by the codes and
//	    references their criteria require, evaluates candidates in memory
//	    with search.Matches (chains and _has fall back to a store search),
//	    checks the subscriber's grant, and appends each match to the
//	    subscription's log with the next event number. The stream's
//	    per-subject sequence check keeps numbers gap-free; message ids drop a
//	    change appended twice.
//	  - Rest-hook delivery: each partition's durable consumer is served by
//	    one node at a time; a worker per subscription sends the handshake
//	    (then writes status active, or error), events in log order (batched
//	    up to backport-max-count, authorized again at send time) and
//	    heartbeats, retrying with jittered exponential backoff; after
//	    Retry.GiveUpAfter the subscription goes to status error with the
//	    reason and the notification is recorded in SUB_DEADLETTER.
//	  - Websocket: $get-ws-binding-token issues an HMAC token (key shared
//	    through KV), the client sends bind-with-token (or R4 bind), gets a
//	    handshake, the events it missed since its subscription's last
//	    websocket delivery, then live events and heartbeats.
//	  - $status, $events and $get-ws-binding-token are served through
//	    rest.Config.Operations; the topics are advertised in the
//	    CapabilityStatement and stored as Basic resources.
//
// Wiring (see cmd/telefhir/serve.go):
//
//	m, err := subscriptions.New(ctx, subscriptions.Config{Service: svc, JS: js, BaseURL: base})
//	svc.Hooks = map[string]fhir.WriteHook{"Subscription": m.Hook()}
//	rest.Config{Operations: m.Operations(), SubscriptionTopics: m.TopicURLs()}
//	go m.Run(ctx)
package subscriptions
