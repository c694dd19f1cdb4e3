package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ReadTraffic reads a traffic file (see ParseTraffic).
func ReadTraffic(path string) (*Traffic, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the traffic file: %w", err)
	}
	defer f.Close()
	b, err := ParseTraffic(f, path)
	if err != nil {
		return nil, err
	}
	return &Traffic{Source: path, Bytes: b}, nil
}

// ParseTraffic reads asn,bytes rows (a flow collector's top ASNs). The
// first row is a header when its first cell is not an AS number; a header
// may name the columns in any order. An ASN listed twice is summed.
func ParseTraffic(r io.Reader, name string) (map[uint32]uint64, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	out := map[uint32]uint64{}
	asnCol, bytesCol := 0, 1
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if row == 1 {
			if _, err := ParseASN(rec[0]); err != nil {
				asnCol, bytesCol = -1, -1
				for i, h := range rec {
					switch strings.ToLower(strings.TrimSpace(h)) {
					case "asn", "as":
						asnCol = i
					case "bytes":
						bytesCol = i
					}
				}
				if asnCol < 0 || bytesCol < 0 {
					return nil, fmt.Errorf("%s:%d: the header needs the columns asn and bytes (got %s)", name, line, strings.Join(rec, ","))
				}
				continue
			}
		}
		if len(rec) <= max(asnCol, bytesCol) {
			return nil, fmt.Errorf("%s:%d: want asn,bytes, got %d column(s)", name, line, len(rec))
		}
		asn, err := ParseASN(rec[asnCol])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		b, err := strconv.ParseUint(strings.TrimSpace(rec[bytesCol]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: bytes %q is not a whole number", name, line, rec[bytesCol])
		}
		if out[asn]+b < out[asn] {
			return nil, fmt.Errorf("%s:%d: the bytes of AS%d overflow", name, line, asn)
		}
		out[asn] += b
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no asn,bytes rows", name)
	}
	return out, nil
}

// ParseASN reads "AS13335" or "13335" with the API server's rule for
// spec.peerASN: 1..4294967295, not AS_TRANS.
func ParseASN(s string) (uint32, error) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && strings.EqualFold(t[:2], "AS") {
		t = t[2:]
	}
	n, err := strconv.ParseUint(t, 10, 32)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not an AS number (1..4294967295)", s)
	case n == 0:
		return 0, fmt.Errorf("AS0 is out of range: an AS number is 1..4294967295")
	case n == 23456:
		return 0, fmt.Errorf("AS23456 is AS_TRANS (RFC 6793), a placeholder for old speakers, not a network")
	}
	return uint32(n), nil
}
