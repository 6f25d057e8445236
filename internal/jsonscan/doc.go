// Package jsonscan walks JSON bytes in place: a small recursive-descent
// scanner that checks syntax as it goes and hands out member names,
// strings and the byte ranges of values, without building a tree or
// copying what it skips. The Bundle envelope parser and the link rewriter
// of fhir/resource are written on it.
//
//	s := jsonscan.Scanner{B: body}
//	err := s.Object(0, func(name string) error {
//		if name == "id" {
//			id, err := s.String()
//			...
//		}
//		return s.Skip(1)
//	})
package jsonscan
