//go:build race

package main

// raceBuild: the race detector slows loading ten-fold, so the loading
// tests take a part of the Synthea sample under it.
const raceBuild = true
