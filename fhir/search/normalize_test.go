package search

import "testing"

func TestNormalize(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"smith", "smith"},
		{"Smith", "smith"},
		{"  Van   der\tBerg \n", "van der berg"},
		{"Zürich", "zurich"},
		{"zurich", "zurich"},
		{"ZÜRICH", "zurich"},
		{"Renée", "renee"},
		{"Rene\u0301e", "renee"}, // decomposed é
		{"Straße", "strasse"},
		{"Ærø", "ærø"},           // letters, not accents: kept (folded)
		{"ﬁle", "file"},          // compatibility ligature
		{"Ｓｍｉｔｈ", "smith"},       // full-width
		{"İstanbul", "istanbul"}, // dotted capital I: the dot is a mark
		{"ılık", "ılık"},         // dotless i stays, as folding leaves it
		{"Ǆemal", "dzemal"},      // compatibility digraph: D, Z and a caron, which goes
		{"Dvořák", "dvorak"},
		{"Łódź", "łodz"}, // ł is a letter of its own
		{"Ἀθῆναι", "αθηναι"},
		{"北京", "北京"},
		{"\u00a0non\u2003breaking\u00a0", "non breaking"},
		{"O'Brien-Smith", "o'brien-smith"},
	} {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeIdempotent(t *testing.T) {
	for _, s := range []string{"Zürich", "  a  B ", "Straße", "Ǆemal", "İ", "x\u0301\u0301y"} {
		once := Normalize(s)
		if twice := Normalize(once); twice != once {
			t.Errorf("Normalize(Normalize(%q)) = %q, want %q", s, twice, once)
		}
	}
}

func TestNormalizeASCIINoAlloc(t *testing.T) {
	s := "already normal text"
	if n := testing.AllocsPerRun(100, func() { _ = Normalize(s) }); n != 0 {
		t.Errorf("Normalize of normal ASCII allocates %v times", n)
	}
}
