package main

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// recorder collects the outcome of one client's requests. Each client owns
// one, so recording takes no lock; merge combines them at the end.
type recorder struct {
	latencies []time.Duration // every counted response, errors included
	ok        int
	resources int         // written by the 2xx responses of the scenarios that count them
	byStatus  map[int]int // non-2xx responses
	transport int         // requests that got no response
}

func newRecorder() *recorder { return &recorder{byStatus: make(map[int]int)} }

// response records one completed request with HTTP status code, which
// wrote resources resources if it succeeded.
func (r *recorder) response(code int, latency time.Duration, resources int) {
	r.latencies = append(r.latencies, latency)
	if code >= 200 && code < 300 {
		r.ok++
		r.resources += resources
	} else {
		r.byStatus[code]++
	}
}

// failure records a request that ended without a response.
func (r *recorder) failure() { r.transport++ }

// merge adds o's records to r.
func (r *recorder) merge(o *recorder) {
	r.latencies = append(r.latencies, o.latencies...)
	r.ok += o.ok
	r.resources += o.resources
	for code, n := range o.byStatus {
		r.byStatus[code] += n
	}
	r.transport += o.transport
}

// Result is what one run measured. Its JSON form is loadgen's -json output;
// bench/run.sh reads the top-level fields by name, so keep them flat.
type Result struct {
	Scenario    string  `json:"scenario"`
	URL         string  `json:"url"`
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"duration_s"` // measured window
	WarmupS     float64 `json:"warmup_s"`
	Seeded      int     `json:"seeded"`

	Requests      int     `json:"requests"` // ok + errors
	OK            int     `json:"ok"`
	Errors        int     `json:"errors"`
	ThroughputRPS float64 `json:"throughput_rps"` // requests per second over the window
	// Resources written by the successful requests, and per second (the
	// create and tx scenarios; 0 for reads).
	Resources     int     `json:"resources"`
	ResourcesPerS float64 `json:"resources_per_s"`

	// Latency percentiles over every counted response (milliseconds),
	// nearest-rank; zero when nothing was counted.
	P50ms float64 `json:"latency_p50_ms"`
	P90ms float64 `json:"latency_p90_ms"`
	P99ms float64 `json:"latency_p99_ms"`
	MaxMs float64 `json:"latency_max_ms"`

	// ErrorsByStatus counts errors by HTTP status code, plus "transport"
	// for requests that got no response.
	ErrorsByStatus map[string]int `json:"errors_by_status"`
}

// summarize turns the merged records of a window of length window into a
// Result (the run's description fields are left for the caller).
func summarize(r *recorder, window time.Duration) Result {
	res := Result{
		OK:             r.ok,
		ErrorsByStatus: make(map[string]int),
	}
	for code, n := range r.byStatus {
		res.ErrorsByStatus[strconv.Itoa(code)] = n
		res.Errors += n
	}
	if r.transport > 0 {
		res.ErrorsByStatus["transport"] = r.transport
		res.Errors += r.transport
	}
	res.Requests = res.OK + res.Errors
	if window > 0 {
		res.ThroughputRPS = float64(res.Requests) / window.Seconds()
		res.ResourcesPerS = float64(r.resources) / window.Seconds()
	}
	res.Resources = r.resources
	lat := slices.Clone(r.latencies)
	slices.Sort(lat)
	res.P50ms = ms(percentile(lat, 50))
	res.P90ms = ms(percentile(lat, 90))
	res.P99ms = ms(percentile(lat, 99))
	if len(lat) > 0 {
		res.MaxMs = ms(lat[len(lat)-1])
	}
	return res
}

// percentile returns the nearest-rank p-th percentile of sorted: the
// smallest value such that at least p% of the samples are at most it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// ms converts d to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
