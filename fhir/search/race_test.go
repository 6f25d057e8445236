//go:build race

package search_test

// raceEnabled: the race detector slows the in-process SQLite (transpiled
// C) about thirtyfold, so the slowest comparisons use a smaller sample.
const raceEnabled = true
