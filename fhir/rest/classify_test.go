package rest

import "testing"

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, path    string
		interaction, op string
		fhir            bool
	}{
		{"GET", "/:type/:id", "read", "", true},
		{"GET", "/:type/:id/_history/:vid", "vread", "", true},
		{"POST", "/:type", "create", "", true},
		{"PUT", "/:type", "update", "", true},
		{"DELETE", "/:type/:id", "delete", "", true},
		{"PATCH", "/:type/:id", "patch", "", true},
		{"GET", "/:type", "search-type", "", true},
		{"POST", "/_search", "search-system", "", true},
		{"GET", "/:ctype/:cid/:type", "search-type", "", true},
		{"GET", "/_history", "history-system", "", true},
		{"GET", "/metadata", "capabilities", "", true},
		{"GET", "/:type/:id/$everything", "operation", "everything", true},
		{"POST", "/:type/:id", "", "", true},
		{"GET", "", "", "", true},
		{"POST", "/auth/token", "", "", false},
	} {
		in, op, fhir := Classify(tc.method, tc.path)
		if in != tc.interaction || op != tc.op || fhir != tc.fhir {
			t.Errorf("Classify(%s, %q) = %q, %q, %v; want %q, %q, %v", tc.method, tc.path, in, op, fhir, tc.interaction, tc.op, tc.fhir)
		}
	}
}
