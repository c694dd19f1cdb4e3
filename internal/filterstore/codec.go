// Package filterstore keeps the import filters the operator pushed in
// PrefixList objects, so a restarted operator or a new leader pushes exactly
// the same filter without asking the IRR.
//
// # Encoding "delta-varint-deflate/v1"
//
// PrefixListSpec.Data (all parts concatenated in part order) is a raw
// DEFLATE stream (RFC 1951, compress/flate) of:
//
//	version  byte     1
//	n4       uvarint  number of IPv4 entries
//	n6       uvarint  number of IPv6 entries
//	n4 IPv4 entries, then n6 IPv6 entries, then the end of the stream
//
// Entries are in policy.Digest's canonical order: by address, then prefix
// length, exact before ranged, then ge, then le. Each entry is:
//
//	address  IPv4: uvarint(addr - prev), the address as a uint32.
//	         IPv6: the address as two uint64 halves hi, lo:
//	               uvarint(hi - prevHi), then uvarint(lo - prevLo) when
//	               hi == prevHi, else uvarint(lo).
//	         prev is the previous entry's address of the same family
//	         (0 for the first); the address is stored as given, host bits
//	         included.
//	length   uvarint(bits<<1 | ranged), ranged = 1 for a non-exact entry
//	ranged   uvarint(ge - bits), uvarint(le - ge); only when ranged = 1.
//	         An exact entry has ge = le = bits.
//
// Sorted input makes most deltas one or two bytes and DEFLATE removes most
// of the rest. All integers are unsigned varints (encoding/binary).
package filterstore

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
)

// Encoding is the name of the format Encode writes, as stored in
// PrefixListSpec.Encoding.
const Encoding = peeringv1.PrefixListEncodingV1

const formatVersion = 1

// Decode's limits. A real filter is far below them (AS-HURRICANE is about
// 350,000 prefixes); they stop corrupt or hostile data from exhausting
// memory.
const (
	MaxEntries      = 4_000_000
	MaxDecompressed = 128 << 20
)

// ErrCorrupt is wrapped by every error Decode returns for bad data.
var ErrCorrupt = errors.New("corrupt prefix list data")

// badLength is written for an entry whose prefix is invalid: it is not a
// valid length for any family, so Decode refuses the data rather than
// returning a different filter.
const badLength = 1 << 16

// Encode returns the entries in the format above. The entries are not
// modified. They should be as irr.Aggregate makes them: distinct, valid
// prefixes and, for ranged entries, bits <= ge <= le <= 32 (IPv4) or 128
// (IPv6); anything else is written so that Decode fails on it rather than
// returning a different filter.
func Encode(entries []irr.Entry) []byte {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, compareEntry)
	n4 := 0
	for _, e := range sorted {
		if !e.Prefix.Addr().Is6() {
			n4++
		}
	}
	raw := make([]byte, 0, 1+2*binary.MaxVarintLen64+4*len(sorted))
	raw = append(raw, formatVersion)
	raw = binary.AppendUvarint(raw, uint64(n4))
	raw = binary.AppendUvarint(raw, uint64(len(sorted)-n4))
	var prev4 uint32
	var prevHi, prevLo uint64
	for _, e := range sorted {
		a := e.Prefix.Addr()
		switch {
		case a.Is4():
			v := binary.BigEndian.Uint32(a.AsSlice())
			raw = binary.AppendUvarint(raw, uint64(v-prev4))
			prev4 = v
		case a.Is6():
			b := a.As16()
			hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
			raw = binary.AppendUvarint(raw, hi-prevHi)
			if hi == prevHi {
				raw = binary.AppendUvarint(raw, lo-prevLo)
			} else {
				raw = binary.AppendUvarint(raw, lo)
			}
			prevHi, prevLo = hi, lo
		default:
			// An invalid prefix sorts first, so it lands among the IPv4
			// entries (n4 counted it) with a length no family has.
			raw = binary.AppendUvarint(raw, 0)
			raw = binary.AppendUvarint(raw, badLength)
			continue
		}
		bits := e.Prefix.Bits()
		if e.Exact {
			raw = binary.AppendUvarint(raw, uint64(bits)<<1)
			continue
		}
		raw = binary.AppendUvarint(raw, uint64(bits)<<1|1)
		// Negative differences become huge unsigned values Decode refuses.
		raw = binary.AppendUvarint(raw, uint64(int64(e.GE-bits)))
		raw = binary.AppendUvarint(raw, uint64(int64(e.LE-e.GE)))
	}
	var out bytes.Buffer
	out.Grow(len(raw) / 3)
	w, err := flate.NewWriter(&out, flate.DefaultCompression)
	if err != nil {
		panic(err) // only for an invalid level
	}
	// Writes to a bytes.Buffer cannot fail.
	_, _ = w.Write(raw)
	_ = w.Close()
	return out.Bytes()
}

// Decode reads data written by Encode. It returns the entries in canonical
// order and refuses, with an error wrapping ErrCorrupt, data that is
// truncated, has trailing bytes, is out of order or out of range, or that
// would decode to more than MaxEntries entries or MaxDecompressed bytes.
// Memory use is bounded by what the data actually holds, not by the counts
// it claims.
func Decode(data []byte) ([]irr.Entry, error) {
	return decode(data, MaxEntries, MaxDecompressed)
}

func decode(data []byte, maxEntries int, maxRaw int64) ([]irr.Entry, error) {
	fr := flate.NewReader(bytes.NewReader(data))
	defer fr.Close()
	d := &decoder{r: bufio.NewReader(&limitReader{r: fr, left: maxRaw}), maxRaw: maxRaw}
	if v, err := d.r.ReadByte(); err != nil {
		return nil, d.fail("header", err)
	} else if v != formatVersion {
		return nil, fmt.Errorf("%w: format version %d, want %d (%s)", ErrCorrupt, v, formatVersion, Encoding)
	}
	n4, err := d.uvarint()
	if err != nil {
		return nil, d.fail("header", err)
	}
	n6, err := d.uvarint()
	if err != nil {
		return nil, d.fail("header", err)
	}
	if n4 > uint64(maxEntries) || n6 > uint64(maxEntries)-n4 {
		return nil, fmt.Errorf("%w: it claims %d IPv4 and %d IPv6 entries, more than the %d allowed", ErrCorrupt, n4, n6, maxEntries)
	}
	// Trust the claimed count only as far as the compressed size allows: a
	// few bytes must not make us allocate for millions of entries.
	n := int(n4 + n6)
	out := make([]irr.Entry, 0, min(n, 1024+16*len(data)))
	if out, err = d.family(out, int(n4), false); err != nil {
		return nil, err
	}
	if out, err = d.family(out, int(n6), true); err != nil {
		return nil, err
	}
	if _, err := d.r.ReadByte(); err == nil {
		return nil, fmt.Errorf("%w: trailing data after %d entries", ErrCorrupt, n)
	} else if err != io.EOF {
		return nil, d.fail("the end of the data", err)
	}
	return out, nil
}

type decoder struct {
	r      *bufio.Reader
	maxRaw int64
}

func (d *decoder) uvarint() (uint64, error) {
	return binary.ReadUvarint(d.r)
}

// fail describes a read error: a stream that ends early means a missing
// or cut part.
func (d *decoder) fail(where string, err error) error {
	switch {
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("%w: more than %d bytes decompressed", ErrCorrupt, d.maxRaw)
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated (data ends in %s)", ErrCorrupt, where)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, where, err)
}

func (d *decoder) family(out []irr.Entry, n int, v6 bool) ([]irr.Entry, error) {
	fam, maxBits := "IPv4", 32
	if v6 {
		fam, maxBits = "IPv6", 128
	}
	var prev4 uint32
	var prevHi, prevLo uint64
	var last irr.Entry
	for i := range n {
		var addr netip.Addr
		delta, err := d.uvarint()
		if err != nil {
			return nil, d.fail(at(fam, i), err)
		}
		if !v6 {
			if delta > uint64(math.MaxUint32-prev4) {
				return nil, fmt.Errorf("%w: %s: address beyond the IPv4 range", ErrCorrupt, at(fam, i))
			}
			prev4 += uint32(delta)
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], prev4)
			addr = netip.AddrFrom4(b)
		} else {
			lo, err := d.uvarint()
			if err != nil {
				return nil, d.fail(at(fam, i), err)
			}
			if delta > math.MaxUint64-prevHi || delta == 0 && lo > math.MaxUint64-prevLo {
				return nil, fmt.Errorf("%w: %s: address beyond the IPv6 range", ErrCorrupt, at(fam, i))
			}
			if delta == 0 {
				lo += prevLo
			}
			prevHi, prevLo = prevHi+delta, lo
			var b [16]byte
			binary.BigEndian.PutUint64(b[:8], prevHi)
			binary.BigEndian.PutUint64(b[8:], prevLo)
			addr = netip.AddrFrom16(b)
		}
		l, err := d.uvarint()
		if err != nil {
			return nil, d.fail(at(fam, i), err)
		}
		if l>>1 > uint64(maxBits) {
			return nil, fmt.Errorf("%w: %s: prefix length %d is out of range", ErrCorrupt, at(fam, i), l>>1)
		}
		bits := int(l >> 1)
		e := irr.Entry{Prefix: netip.PrefixFrom(addr, bits), Exact: l&1 == 0, GE: bits, LE: bits}
		if !e.Exact {
			ge, err := d.uvarint()
			if err != nil {
				return nil, d.fail(at(fam, i), err)
			}
			le, err := d.uvarint()
			if err != nil {
				return nil, d.fail(at(fam, i), err)
			}
			if ge > uint64(maxBits-bits) || le > uint64(maxBits-bits)-ge {
				return nil, fmt.Errorf("%w: %s: ge/le outside %d..%d", ErrCorrupt, at(fam, i), bits, maxBits)
			}
			e.GE = bits + int(ge)
			e.LE = e.GE + int(le)
		}
		// Strictly increasing: a run of identical entries would let a tiny
		// input fill the entry limit.
		if i > 0 && compareEntry(last, e) >= 0 {
			return nil, fmt.Errorf("%w: %s is out of order or a duplicate", ErrCorrupt, at(fam, i))
		}
		out = append(out, e)
		last = e
	}
	return out, nil
}

// at names an entry in an error; built only then, a Sprintf per entry
// would cost more than decoding it.
func at(fam string, i int) string { return fmt.Sprintf("%s entry %d", fam, i) }

// compareEntry is the order policy.Digest sorts entries in.
func compareEntry(a, b irr.Entry) int {
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()); c != 0 {
		return c
	}
	if a.Exact != b.Exact {
		if a.Exact {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(a.GE, b.GE); c != 0 {
		return c
	}
	return cmp.Compare(a.LE, b.LE)
}

var errTooLarge = errors.New("decompressed data too large")

// limitReader fails once more than left bytes were read, so a small
// "zip bomb" cannot make Decode inflate gigabytes.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, errTooLarge
	}
	// One byte more than allowed tells "exactly at the limit" from "over".
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errTooLarge
	}
	return n, err
}
