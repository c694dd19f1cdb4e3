package filterstore

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
)

// Sizes of the synthetic AS-HURRICANE-like filter: roughly what
// `bgpq4 AS-HURRICANE` expands to (IPv4 prefixes, IPv6 prefixes).
const (
	he4 = 250_000
	he6 = 100_000
)

// heFilter is built once per test binary: generating and aggregating it
// takes about a second.
var heFilter = sync.OnceValue(func() heFilters {
	rng := rand.New(rand.NewPCG(1, 2))
	p4 := policy.Filter(synthetic4(rng, he4), policy.DefaultLimits)
	p6 := policy.Filter(synthetic6(rng, he6), policy.DefaultLimits)
	return heFilters{
		v4: testFilter{prefixes: len(p4), entries: irr.Aggregate(p4, irr.AggregateOptions{})},
		v6: testFilter{prefixes: len(p6), entries: irr.Aggregate(p6, irr.AggregateOptions{})},
	}
})

type heFilters struct{ v4, v6 testFilter }

type testFilter struct {
	prefixes int
	entries  []irr.Entry
}

// synthetic4 makes n distinct IPv4 prefixes shaped like a transit
// provider's customer cone: allocations (/12 to /22) spread over most
// public /8s, each announced as a handful of more-specifics down to /24,
// sometimes with the covering block and sometimes as both halves of a
// block (which aggregation folds into ranges).
func synthetic4(rng *rand.Rand, n int) []netip.Prefix {
	var eights []uint32
	for o := uint32(1); o < 224; o++ {
		switch o {
		case 10, 127:
			continue
		}
		eights = append(eights, o)
	}
	seen := make(map[netip.Prefix]struct{}, n)
	out := make([]netip.Prefix, 0, n)
	add := func(addr uint32, bits int) {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], addr)
		p := netip.PrefixFrom(netip.AddrFrom4(b), bits).Masked()
		if _, ok := seen[p]; !ok && len(out) < n {
			seen[p] = struct{}{}
			out = append(out, p)
		}
	}
	for len(out) < n {
		alloc := pick(rng, []int{12, 14, 16, 16, 17, 18, 19, 19, 20, 20, 20, 21, 21, 22, 22, 22})
		base := eights[rng.IntN(len(eights))]<<24 | rng.Uint32()&(1<<24-1)
		base &^= 1<<(32-alloc) - 1
		if rng.IntN(3) == 0 {
			add(base, alloc)
		}
		for range 1 + rng.IntN(12) {
			bits := pick(rng, []int{alloc, 20, 21, 22, 22, 23, 23, 24, 24, 24, 24, 24})
			if bits < alloc {
				bits = alloc
			}
			sub := base | rng.Uint32()&(1<<(32-alloc)-1)
			add(sub, bits)
			if rng.IntN(4) == 0 && bits > alloc {
				add(sub^1<<(32-bits), bits) // the sibling half
			}
		}
	}
	return out
}

// synthetic6 makes n distinct IPv6 prefixes: /29 to /32 allocations under
// the RIRs' 2001::/16 and 2400::/12 to 2c00::/12, announced as the /32 and
// more-specifics from /33 to /48 (mostly /48).
func synthetic6(rng *rand.Rand, n int) []netip.Prefix {
	roots := []uint64{0x2001 << 48, 0x2400 << 48, 0x2600 << 48, 0x2800 << 48, 0x2a00 << 48, 0x2c00 << 48}
	rootBits := []int{16, 12, 12, 12, 12, 12}
	seen := make(map[netip.Prefix]struct{}, n)
	out := make([]netip.Prefix, 0, n)
	add := func(hi uint64, bits int) {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], hi)
		p := netip.PrefixFrom(netip.AddrFrom16(b), bits).Masked()
		if _, ok := seen[p]; !ok && len(out) < n {
			seen[p] = struct{}{}
			out = append(out, p)
		}
	}
	for len(out) < n {
		r := rng.IntN(len(roots))
		alloc := pick(rng, []int{29, 32, 32, 32})
		base := roots[r] | rng.Uint64()&(1<<(64-rootBits[r])-1)
		base &^= 1<<(64-alloc) - 1
		if rng.IntN(2) == 0 {
			add(base, alloc)
		}
		for range rng.IntN(8) {
			bits := pick(rng, []int{36, 40, 44, 48, 48, 48, 48})
			add(base|rng.Uint64()&(1<<(64-alloc)-1), bits)
		}
	}
	return out
}

func pick(rng *rand.Rand, xs []int) int { return xs[rng.IntN(len(xs))] }
