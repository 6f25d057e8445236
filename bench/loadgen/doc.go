// Command loadgen is telefhir's closed-loop HTTP load generator for FHIR
// servers. It is what bench/run.sh drives; see bench/README.md.
//
//	go run ./bench/loadgen -url http://127.0.0.1:8080 -scenario read -c 32 -d 20s
//
// Closed loop: each of -c clients sends one request, reads the whole
// response, and only then sends the next, so the offered load adapts to
// the server instead of piling up. Before the clock starts, loadgen creates
// -seed-count Patients (POST /Patient), except for get; the scenarios then
// are:
//
//	read    GET /Patient/{id} for a random seeded id
//	create  POST /Observation: a ~2 KB vital-signs Observation (heart rate
//	        8867-4 or blood pressure 85354-9 with components) about a
//	        random seeded Patient
//	mixed   90% read, 10% create
//	get     GET one of the -path templates (or those of a -paths file),
//	        with {patient} replaced by a random id of the -ids file; it
//	        creates nothing, the data is the server's (bench/search.sh)
//
// The first -warmup of load is not counted. Every request that starts
// during the next -d and completes before its end is counted, and
// percentiles come from all of their latencies (time to the last byte of
// the body), not from a sample. A response with a non-2xx status is an
// error, counted by status; a request that fails without a response counts
// under "transport".
//
// loadgen stops by itself after warmup plus duration, and only targets
// loopback addresses unless -allow-remote is given: it is a benchmark tool,
// not something to point at someone else's server.
package main
