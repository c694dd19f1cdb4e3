package filterstore

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
)

func exact(s string) irr.Entry {
	p := netip.MustParsePrefix(s)
	return irr.Entry{Prefix: p, Exact: true, GE: p.Bits(), LE: p.Bits()}
}

func ranged(s string, ge, le int) irr.Entry {
	return irr.Entry{Prefix: netip.MustParsePrefix(s), GE: ge, LE: le}
}

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		entries []irr.Entry
	}{
		{"empty", nil},
		{"one IPv4", []irr.Entry{exact("192.0.2.0/24")}},
		{"IPv4 exact and ranges", []irr.Entry{
			exact("198.51.100.0/24"), ranged("203.0.113.0/24", 24, 26),
			ranged("10.0.0.0/8", 9, 24), exact("10.0.0.0/8"),
			ranged("10.0.0.0/8", 8, 8), // ranged but same lengths as exact: another entry
			exact("0.0.0.0/0"), ranged("0.0.0.0/0", 0, 32), exact("255.255.255.255/32"),
		}},
		{"IPv6", []irr.Entry{
			exact("2001:db8::/32"), ranged("2001:db8::/32", 33, 48), exact("2001:db8:1::/48"),
			exact("2001:db8:1:0:8000::/65"), exact("2001:db8:1:0:4000::/66"),
			exact("::/0"), exact("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
			ranged("2a00::/12", 12, 128), ranged("2a00::/12", 13, 128),
			exact("::ffff:192.0.2.0/120"), // IPv4-mapped stays IPv6
		}},
		{"both families", []irr.Entry{
			exact("2001:db8::/32"), exact("192.0.2.0/24"), ranged("2001:db8::/32", 40, 48), ranged("192.0.2.0/24", 25, 25),
		}},
		{"host bits kept", []irr.Entry{exact("192.0.2.1/24"), exact("192.0.2.0/24")}},
		{"high half differs, low half smaller", []irr.Entry{
			exact("2001:db8:0:1:ffff::/80"), exact("2001:db8:0:2::/64"), exact("2001:db8:0:2:0:0:0:1/128"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.entries)
			data := Encode(in)
			if !slices.Equal(in, tt.entries) {
				t.Fatal("Encode modified its input")
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if want, g := policy.Digest(tt.entries), policy.Digest(got); g != want {
				t.Errorf("digest after round trip = %s, want %s\ngot %v", g, want, got)
			}
			want := slices.Clone(tt.entries)
			slices.SortFunc(want, compareEntry)
			if !slices.Equal(got, want) {
				t.Errorf("Decode = %v, want %v (canonical order)", got, want)
			}
		})
	}
}

// TestAggregateOrderIsCanonical: irr.Aggregate already emits the canonical
// order, so a filter read back lists its entries in the order they were
// pushed, not merely the same set.
func TestAggregateOrderIsCanonical(t *testing.T) {
	he := heFilter()
	for _, f := range []testFilter{he.v4, he.v6} {
		if !slices.IsSortedFunc(f.entries, compareEntry) {
			t.Error("irr.Aggregate's order differs from the canonical one")
		}
	}
}

// raw deflates an uncompressed stream, to build bad data by hand.
func raw(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func uv(xs ...uint64) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.AppendUvarint(b, x)
	}
	return b
}

func TestDecodeRefuses(t *testing.T) {
	good := Encode([]irr.Entry{exact("192.0.2.0/24"), ranged("2001:db8::/32", 32, 48)})
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"not deflate", []byte("hello, world")},
		{"cut short", good[:len(good)-2]},
		{"trailing bytes", raw(t, append([]byte{1}, uv(0, 0, 7)...))},
		{"wrong version", raw(t, append([]byte{2}, uv(0, 0)...))},
		{"count beyond the limit", raw(t, append([]byte{1}, uv(MaxEntries, 1)...))},
		{"huge counts", raw(t, append([]byte{1}, uv(1<<63, 1<<63)...))},
		{"fewer entries than claimed", raw(t, append([]byte{1}, uv(2, 0, 0xc0000200, 24<<1)...))},
		{"IPv4 length 33", raw(t, append([]byte{1}, uv(1, 0, 0xc0000200, 33<<1)...))},
		{"IPv4 beyond 255.255.255.255", raw(t, append([]byte{1}, uv(2, 0, 0xffffff00, 24<<1, 0x100, 24<<1)...))},
		{"IPv6 length 129", raw(t, append([]byte{1}, uv(0, 1, 0x20010db8<<32, 0, 129<<1)...))},
		{"IPv6 high half overflows", raw(t, append([]byte{1}, uv(0, 2, 1<<63, 0, 1<<1, 1<<63, 0, 1<<1)...))},
		{"IPv6 low half overflows", raw(t, append([]byte{1}, uv(0, 2, 0, 1<<63, 128<<1, 0, 1<<63, 128<<1)...))},
		{"ge beyond 32", raw(t, append([]byte{1}, uv(1, 0, 0xc0000200, 24<<1|1, 9, 0)...))},
		{"le beyond 32", raw(t, append([]byte{1}, uv(1, 0, 0xc0000200, 24<<1|1, 0, 9)...))},
		{"out of order", raw(t, append([]byte{1}, uv(2, 0, 0xc0000200, 24<<1, 0, 23<<1)...))},
		{"duplicate", Encode([]irr.Entry{exact("192.0.2.0/24"), exact("192.0.2.0/24")})},
		{"invalid prefix", Encode([]irr.Entry{{}})},
		{"negative ge", Encode([]irr.Entry{ranged("192.0.2.0/24", 23, 24)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.data)
			if err == nil {
				t.Fatalf("Decode succeeded: %v", got)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
			t.Log(err)
		})
	}
}

// TestDecodeBomb: small inputs inflating to far more than any filter are
// cut off. Lower limits than Decode's keep the test quick; the code path
// is the same.
func TestDecodeBomb(t *testing.T) {
	// Valid, increasing IPv6 entries padded with needlessly long varints:
	// 42 bytes each, repeated, compress about 1000:1.
	pad := func(x uint64) []byte { // x < 128, in 10 bytes
		return []byte{byte(x) | 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0}
	}
	var entry []byte
	for _, x := range []uint64{1, 0} { // hi += 1, lo = 0
		entry = append(entry, pad(x)...)
	}
	entry = append(entry, 0x81, 0x01) // /64, ranged: uvarint(64<<1|1)
	entry = append(entry, pad(0)...)  // ge = 64
	entry = append(entry, pad(0)...)  // le = 64
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(append([]byte{1}, uv(0, MaxEntries)...))
	for range 1 << 20 {
		w.Write(entry)
	}
	w.Close()
	t.Logf("%d bytes inflate to %d MiB", buf.Len(), len(entry))

	t.Run("decompressed limit", func(t *testing.T) {
		_, err := decode(buf.Bytes(), MaxEntries, 4<<20)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "decompressed") {
			t.Fatalf("decode = %v, want the decompressed limit", err)
		}
		t.Log(err)
	})
	t.Run("claimed entry limit", func(t *testing.T) {
		_, err := decode(buf.Bytes(), 50_000, 1<<30)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "allowed") {
			t.Fatalf("decode = %v, want the entry limit", err)
		}
		t.Log(err)
	})
	t.Run("claims millions, holds nothing", func(t *testing.T) {
		data := raw(t, append([]byte{1}, uv(MaxEntries/2, MaxEntries/2)...))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Decode(data)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatal("Decode succeeded")
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("Decode of %d bytes claiming %d entries allocated %d bytes", len(data), MaxEntries, n)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(Encode(nil))
	f.Add(Encode([]irr.Entry{exact("192.0.2.0/24"), ranged("198.51.100.0/22", 23, 24), exact("2001:db8::/32"), ranged("2001:db8::/32", 33, 48)}))
	f.Add(raw(f, append([]byte{1}, uv(3_999_999, 1)...)))
	f.Add(raw(f, append([]byte{1}, make([]byte, 4096)...)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		entries, err := Decode(data)
		runtime.ReadMemStats(&after)
		// DEFLATE inflates at most ~1032:1 and an entry takes at least 2
		// bytes inflated, so what a valid input can hold bounds what
		// Decode may allocate (plus the decompressor's own state).
		limit := uint64(1<<20) + uint64(len(data))*1100*64
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit {
			t.Fatalf("Decode of %d bytes allocated %d bytes (limit %d)", len(data), alloc, limit)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(entries) > MaxEntries {
			t.Fatalf("%d entries", len(entries))
		}
		// What decodes re-encodes to the same filter.
		again, err := Decode(Encode(entries))
		if err != nil {
			t.Fatalf("re-encoded data does not decode: %v", err)
		}
		if !slices.Equal(again, entries) {
			t.Fatal("decode(encode(decode(data))) != decode(data)")
		}
	})
}

// TestEncodeHESize measures the AS-HURRICANE-sized filter and checks that
// every part fits an API object.
func TestEncodeHESize(t *testing.T) {
	he := heFilter()
	pr := &peeringv1.PeeringRequest{}
	pr.Name, pr.Namespace, pr.UID = longName, "peering-customers", "0b7d2c8e-6f3a-4d51-9a2e-2f4c1b7e9d00"
	wantParts := map[int]int{4: 1, 6: 1}
	for fam, tf := range map[int]testFilter{4: he.v4, 6: he.v6} {
		data := Encode(tf.entries)
		f := &Filter{Digest: policy.Digest(tf.entries), Family: fam, PrefixCount: int64(tf.prefixes), EntryCount: int64(len(tf.entries)), ASSet: "AS-HURRICANE", Sources: []string{"RADB", "ARIN"}}
		lists := buildLists(pr, f, data, MaxPartBytes)
		t.Logf("IPv%d: %d prefixes, %d entries: %d bytes encoded, %.2f bytes/entry, %.2f bytes/prefix, %d part(s)",
			fam, tf.prefixes, len(tf.entries), len(data), float64(len(data))/float64(len(tf.entries)), float64(len(data))/float64(tf.prefixes), len(lists))
		if len(lists) != wantParts[fam] {
			t.Errorf("IPv%d: %d parts, want %d", fam, len(lists), wantParts[fam])
		}
		var joined []byte
		for _, pl := range lists {
			pl.TypeMeta.APIVersion, pl.TypeMeta.Kind = peeringv1.GroupVersion.String(), "PrefixList"
			j, err := json.Marshal(pl)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("  %s: %d bytes of data, %d bytes as JSON", pl.Name, len(pl.Spec.Data), len(j))
			if len(j) >= 1<<20 {
				t.Errorf("%s is %d bytes as JSON, not under 1 MiB", pl.Name, len(j))
			}
			if len(pl.Name) > 253 {
				t.Errorf("name %s is longer than 253", pl.Name)
			}
			joined = append(joined, pl.Spec.Data...)
		}
		got, err := Decode(joined)
		if err != nil {
			t.Fatal(err)
		}
		if policy.Digest(got) != f.Digest {
			t.Errorf("IPv%d: digest changed in the round trip", fam)
		}
	}
}

// longName is a request name longer than the 200 characters kept in
// PrefixList names, cut at a dot.
var longName = func() string {
	b := bytes.Repeat([]byte("a"), 199)
	return string(b) + ".bcdefghijklmnopqrstuvwxyz-peering-request-for-as6939"
}()

func BenchmarkEncodeHE(b *testing.B) {
	he := heFilter()
	entries := append(slices.Clone(he.v4.entries), he.v6.entries...)
	var n int
	b.ReportAllocs()
	for b.Loop() {
		n = len(Encode(entries))
	}
	b.ReportMetric(float64(n)/float64(len(entries)), "bytes/entry")
	b.ReportMetric(float64(len(entries)), "entries")
}

func BenchmarkDecodeHE(b *testing.B) {
	he := heFilter()
	entries := append(slices.Clone(he.v4.entries), he.v6.entries...)
	data := Encode(entries)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data))/float64(len(entries)), "bytes/entry")
	b.ReportMetric(float64(len(entries)), "entries")
}
