package peeringdb_test

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// The whole sample decodes: every object type, both pages.
func TestSampleDecodes(t *testing.T) {
	if n := len(decodeSample[peeringdb.Network](t)); n != 500 {
		t.Errorf("net: %d records", n)
	}
	if n := len(decodeSample[peeringdb.NetIXLAN](t)); n != 500 {
		t.Errorf("netixlan: %d records", n)
	}
	decodeSample[peeringdb.IX](t)
	decodeSample[peeringdb.IXLAN](t)
	decodeSample[peeringdb.IXPrefix](t)
	decodeSample[peeringdb.Org](t)
	decodeSample[peeringdb.Facility](t)
	decodeSample[peeringdb.NetFac](t)
	decodeSample[peeringdb.IXFac](t)
	decodeSample[peeringdb.POC](t)
}

// info_prefixes4: null is "unknown" (nil), 0 stays a real 0.
func TestNullPrefixCountIsNil(t *testing.T) {
	nets := sampleNetworksByASN(t)
	arelion := nets[1299] // both null in the sample
	if arelion.InfoPrefixes4 != nil || arelion.InfoPrefixes6 != nil {
		t.Errorf("AS1299 prefixes = %v/%v, want nil/nil (null in PeeringDB)", arelion.InfoPrefixes4, arelion.InfoPrefixes6)
	}
	n8546 := nets[8546] // info_prefixes4 null, info_prefixes6 0
	if n8546.InfoPrefixes4 != nil || n8546.InfoPrefixes6 == nil || *n8546.InfoPrefixes6 != 0 {
		t.Errorf("AS8546 prefixes = %v/%v, want nil/0", n8546.InfoPrefixes4, n8546.InfoPrefixes6)
	}
	n7132 := nets[7132] // info_prefixes4 0
	if n7132.InfoPrefixes4 == nil || *n7132.InfoPrefixes4 != 0 {
		t.Errorf("AS7132 info_prefixes4 = %v, want pointer to 0", n7132.InfoPrefixes4)
	}
	he := nets[6939]
	if he.InfoPrefixes4 == nil || *he.InfoPrefixes4 != 210000 {
		t.Errorf("AS6939 info_prefixes4 = %v, want 210000", he.InfoPrefixes4)
	}
	// And back: marshalling keeps null and 0 apart (the cache file relies on it).
	b, _ := json.Marshal(n8546)
	var back peeringdb.Network
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.InfoPrefixes4 != nil || back.InfoPrefixes6 == nil || *back.InfoPrefixes6 != 0 {
		t.Errorf("round trip lost null/0: %v/%v", back.InfoPrefixes4, back.InfoPrefixes6)
	}
}

// netixlan.ipaddr6: null is the zero Addr; the IPv4 address is intact.
func TestNullIPv6IsZeroAddr(t *testing.T) {
	var found, v4less bool
	for _, n := range decodeSample[peeringdb.NetIXLAN](t) {
		if n.ID == 0 {
			t.Fatal("record without id")
		}
		if n.ASN == 31800 && n.IXID == 64 {
			found = true
			if n.IPAddr6.IsValid() {
				t.Errorf("AS31800 at ix 64: IPAddr6 = %v, want zero (null)", n.IPAddr6)
			}
			if n.IPAddr4 != netip.MustParseAddr("193.239.116.162") {
				t.Errorf("AS31800 at ix 64: IPAddr4 = %v", n.IPAddr4)
			}
			if got := n.Addrs(); len(got) != 1 {
				t.Errorf("Addrs() = %v, want only the IPv4 address", got)
			}
		}
		if n.ASN == 12902 && n.IXID == 313 { // both null: a port without addresses
			v4less = true
			if n.IPAddr4.IsValid() || n.IPAddr6.IsValid() || len(n.Addrs()) != 0 {
				t.Errorf("AS12902 at ix 313: %v / %v", n.IPAddr4, n.IPAddr6)
			}
		}
	}
	if !found || !v4less {
		t.Fatal("sample records for the null-address quirks not found")
	}
}

func TestIXPrefixDecodes(t *testing.T) {
	want := map[int]netip.Prefix{54: netip.MustParsePrefix("80.81.192.0/21"), 312: netip.MustParsePrefix("2001:7f8::/64")}
	for _, p := range decodeSample[peeringdb.IXPrefix](t) {
		if w, ok := want[p.ID]; ok {
			if p.Prefix != w || p.IXLANID != 31 {
				t.Errorf("ixpfx %d = %v on ixlan %d", p.ID, p.Prefix, p.IXLANID)
			}
			delete(want, p.ID)
		}
	}
	if len(want) != 0 {
		t.Errorf("DE-CIX prefixes missing: %v", want)
	}
}
