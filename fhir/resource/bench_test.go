package resource

import (
	"os"
	"testing"
	"time"
)

func benchBody(b *testing.B, name string) []byte {
	b.Helper()
	body, err := os.ReadFile(subsetDir + "/" + name)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func benchParse(b *testing.B, name string) {
	body := benchBody(b, name)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(body, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "resources/s")
}

// A 2 KB Observation, the kind of write that arrives most often.
func BenchmarkParseObservation(b *testing.B) { benchParse(b, "Observation-example.json") }
func BenchmarkParsePatient(b *testing.B)     { benchParse(b, "Patient-example.json") }
func BenchmarkParseBundle(b *testing.B)      { benchParse(b, "Bundle-bundle-transaction.json") }

func BenchmarkStampObservation(b *testing.B) {
	body := benchBody(b, "Observation-example.json")
	at := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Stamp(body, "example", 12, at); err != nil {
			b.Fatal(err)
		}
	}
}
