package policy

import (
	"net/netip"
	"testing"
)

// The route-server filter accepts any prefix of a sane length outside
// bogon space, and nothing else; no entry admits a bogon.
func TestNonBogonEntries(t *testing.T) {
	for fam, cases := range map[int]map[string]bool{
		4: {"1.0.0.0/24": true, "8.8.8.0/24": true, "11.0.0.0/8": true, "31.13.64.0/18": true, "223.255.255.0/24": true,
			"10.1.0.0/16": false, "192.0.2.0/24": false, "203.0.113.0/24": false, "100.64.0.0/10": false, "224.0.0.0/4": false,
			"0.0.0.0/0": false, "8.0.0.0/7": false, "1.2.3.0/25": false, "192.169.0.0/16": true, "172.32.0.0/11": true},
		6: {"2a00::/12": false, "2a00::/16": true, "2a00:1::/48": true, "2001:67c::/32": true, "2001:db8::/32": false, "2001:db8:1::/48": false,
			"fc00::/7": false, "2a00::/49": false, "2000::/3": false, "2002:1::/32": false, "3fff::/16": true, "2001::/15": false},
	} {
		es := NonBogonEntries(fam, DefaultLimits)
		for _, e := range es {
			if bad, why := BogonOverlap(e.Prefix); bad {
				t.Errorf("IPv%d entry %v overlaps a bogon: %s", fam, e, why)
			}
		}
		for p, want := range cases {
			pfx := netip.MustParsePrefix(p)
			got := false
			for _, e := range es {
				got = got || e.Matches(pfx)
			}
			if got != want {
				t.Errorf("IPv%d: %s accepted = %v, want %v", fam, p, got, want)
			}
		}
		t.Logf("IPv%d: %d entries", fam, len(es))
	}
	f := NonBogonFilter(4, DefaultLimits)
	if f.Key.Sets != RouteServerSet || f.Summary.Entries != len(f.Entries) || f.Summary.Digest == "" {
		t.Errorf("filter %+v", f.Summary)
	}
}
