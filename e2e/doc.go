// Package e2e holds the end-to-end tests of SMART App Launch against a
// running telefhir with a real SMART client: the fhirclient library
// (npm fhirclient 2.6.x, pinned in package-lock.json) on Node.js and in
// headless Chromium driven over the DevTools protocol (chromedp), with
// public, symmetric and asymmetric clients, standalone and EHR launches.
//
// Setup: `npm ci` in this folder and Debian's chromium. Without them the
// tests skip and say why; with CI=true they fail instead.
package e2e
