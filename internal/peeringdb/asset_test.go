package peeringdb_test

import (
	"reflect"
	"testing"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

func TestParseASSetsRealRecords(t *testing.T) {
	nets := sampleNetworksByASN(t)
	type S = peeringdb.ASSet
	for _, tc := range []struct {
		asn  uint32
		raw  string // what the sample holds, checked too
		want []S
	}{
		{9002, "RIPE::AS-RETN RIPE::AS-RETN6", []S{{"RIPE", "AS-RETN"}, {"RIPE", "AS-RETN6"}}},
		{3320, "AS3320:AS-DTAG AS3320:AS-DTAG-V6", []S{{"", "AS3320:AS-DTAG"}, {"", "AS3320:AS-DTAG-V6"}}},
		{7843, "RADB::AS-ROADRUNNER", []S{{"RADB", "AS-ROADRUNNER"}}},
		{6939, "RADB::AS-HURRICANE RADB::AS-HURRICANEV6", []S{{"RADB", "AS-HURRICANE"}, {"RADB", "AS-HURRICANEV6"}}},
		{13649, "AS-VIAWEST-TRANSIT, AS-FLEXENTIAL", []S{{"", "AS-VIAWEST-TRANSIT"}, {"", "AS-FLEXENTIAL"}}},
		{297, "RADB::AS297:AS-CONE", []S{{"RADB", "AS297:AS-CONE"}}},
		{2914, "NTTCOM::AS2914:AS-GLOBAL", []S{{"NTTCOM", "AS2914:AS-GLOBAL"}}},
		{812, "AS-ROGERS:AS-CUSTOMERS", []S{{"", "AS-ROGERS:AS-CUSTOMERS"}}},
		{2497, "JPIRR::AS-IIJ JPIRR::AS-IIJ6", []S{{"JPIRR", "AS-IIJ"}, {"JPIRR", "AS-IIJ6"}}},
		{30811, "RIPE::AS-EPISERVER_AS", []S{{"RIPE", "AS-EPISERVER_AS"}}},
		{4436, "", nil}, // empty in PeeringDB
	} {
		n, ok := nets[tc.asn]
		if !ok {
			t.Fatalf("AS%d not in the sample", tc.asn)
		}
		if n.IRRASSet != tc.raw {
			t.Errorf("AS%d irr_as_set = %q, test expects %q", tc.asn, n.IRRASSet, tc.raw)
		}
		if got := n.ASSets(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("AS%d ParseASSets(%q) = %#v, want %#v", tc.asn, n.IRRASSet, got, tc.want)
		}
	}
}

func TestParseASSetsSyntax(t *testing.T) {
	type S = peeringdb.ASSet
	for _, tc := range []struct {
		in   string
		want []S
	}{
		{"AS-FOO@RIPE", []S{{"RIPE", "AS-FOO"}}},
		{"ripe::AS-X", []S{{"RIPE", "AS-X"}}},
		{"AS-A;AS-B AS-C", []S{{"", "AS-A"}, {"", "AS-B"}, {"", "AS-C"}}},
		// A control character: the record is corrupt, nothing of it is used
		// (it must not become AS-FOO and AS1).
		{"AS-FOO\nneighbor 1.2.3.4 remote-as 1", nil},
		{"AS-A\tAS-B", nil},
		// PeeringDB's validator: no bare numbers, no reserved ASNs, a known
		// source only, never an empty one.
		{"1 AS0 AS23456 AS4294967295 AS-OK", []S{{"", "AS-OK"}}},
		{"::AS-FOO AS-OK", []S{{"", "AS-OK"}}},
		{"RIPE::AS-A ripe::as-a AS-A", []S{{"RIPE", "AS-A"}, {"", "AS-A"}}}, // case-insensitive dedupe
		{"AS65001", []S{{"", "AS65001"}}},
		{"RIPE:: AS-OK", []S{{"", "AS-OK"}}},                             // empty name dropped
		{"AS-X'$(rm) AS-OK", []S{{"", "AS-OK"}}},                         // never pass junk on to IRR queries
		{"BAD SRC::AS-OK RI/PE::AS-Y RADB::AS-Z", []S{{"RADB", "AS-Z"}}}, // unknown sources, not a name
		{"  ,, ", nil},
	} {
		got := peeringdb.ParseASSets(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseASSets(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
	if s := (peeringdb.ASSet{Source: "RIPE", Name: "AS-RETN"}).String(); s != "RIPE::AS-RETN" {
		t.Errorf("String() = %q", s)
	}
}
