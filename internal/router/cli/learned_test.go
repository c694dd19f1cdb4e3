package cli

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestLearnedWildcards(t *testing.T) {
	if got := LearnedWildcards(65000); !slices.Equal(got, []string{"65000:1:*", "65000:2:*"}) {
		t.Errorf("got %q", got)
	}
}

// The regex finds our peer and route-server communities, alone or among
// others, and nothing else.
func TestLearnedRegex(t *testing.T) {
	s := LearnedRegex(65000)
	if strings.ContainsAny(s, " \t") {
		t.Fatalf("%q holds a space: it must be one CLI word", s)
	}
	re := regexp.MustCompilePOSIX(s)
	for in, want := range map[string]bool{
		"65000:1:7":                      true,
		"65000:2:1234":                   true,
		"1:2:3 65000:1:7":                true,
		"1:2:3 65000:2:9 4200000000:1:1": true,
		"65000:0:7":                      false,
		"65000:3:7":                      false,
		"65000:12:7":                     false,
		"165000:1:7":                     false,
		"1:2:3 165000:1:7":               false,
		"7:65000:1":                      false,
		"7:65000:1 2:3:4":                false,
		"":                               false,
	} {
		if re.MatchString(in) != want {
			t.Errorf("%s on %q: want %v", s, in, want)
		}
	}
}
