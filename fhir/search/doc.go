// Package search is telefhir's FHIR search engine, independent of storage:
// the registry of search parameters (from the official R4 definitions),
// extraction of a resource's index rows on every write, parsing of search
// URLs into a Query, and the Query and Index shapes that the stores turn
// into SQL.
package search
