package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// Facilities (fac, netfac) and contacts (poc) are not in the PeeringDB
// cache: the operator never needs them, only the coordinator's commands
// do. They are asked online on each run, a few requests.

// errOfflineFacilities says why facilities and contacts are missing.
var errOfflineFacilities = errors.New("--offline: PeeringDB facilities and contacts are not in the cache file; run without --offline to include them")

// netFacsOf lists the facilities where the networks of asns are present
// (netfac local_asn__in).
func (s *pdbSource) netFacsOf(ctx context.Context, asns []uint32) ([]peeringdb.NetFac, error) {
	if s.client == nil {
		return nil, errOfflineFacilities
	}
	var out []peeringdb.NetFac
	for batch := range slices.Chunk(asns, peeringdb.MaxASNsPerQuery) {
		l, err := notFoundEmpty(s.client.NetFacs(ctx, url.Values{"local_asn__in": {peeringdb.JoinInts(batch)}}))
		if err != nil {
			return nil, fmt.Errorf("cannot list the facilities of %s in PeeringDB: %w", asList(batch), err)
		}
		out = append(out, l...)
	}
	return out, nil
}

// netFacsAt lists every network present in the facilities (netfac
// fac_id__in), and the facilities themselves by id.
func (s *pdbSource) netFacsAt(ctx context.Context, facIDs []int) ([]peeringdb.NetFac, map[int]peeringdb.Facility, error) {
	if s.client == nil {
		return nil, nil, errOfflineFacilities
	}
	var out []peeringdb.NetFac
	facs := map[int]peeringdb.Facility{}
	for batch := range slices.Chunk(facIDs, peeringdb.MaxASNsPerQuery) {
		ids := peeringdb.JoinInts(batch)
		l, err := notFoundEmpty(s.client.NetFacs(ctx, url.Values{"fac_id__in": {ids}}))
		if err != nil {
			return nil, nil, fmt.Errorf("cannot list the networks in facilities %s in PeeringDB: %w", ids, err)
		}
		out = append(out, l...)
		fl, err := notFoundEmpty(s.client.Facilities(ctx, url.Values{"id__in": {ids}}))
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read facilities %s from PeeringDB: %w", ids, err)
		}
		for _, f := range fl {
			facs[f.ID] = f
		}
	}
	return out, facs, nil
}

// contacts are a network's points of contact that PeeringDB shows us.
func (s *pdbSource) contacts(ctx context.Context, netID int) ([]peeringdb.POC, error) {
	if s.client == nil {
		return nil, errOfflineFacilities
	}
	l, err := notFoundEmpty(s.client.POCs(ctx, url.Values{"net_id": {fmt.Sprint(netID)}}))
	if err != nil {
		return nil, fmt.Errorf("cannot read the contacts of PeeringDB net %d: %w", netID, err)
	}
	return l, nil
}

// notFoundEmpty reads PeeringDB's 404 to a filtered list as no match.
func notFoundEmpty[T any](l []T, err error) ([]T, error) {
	if errors.Is(err, peeringdb.ErrNotFound) {
		return nil, nil
	}
	return l, err
}

func asList(asns []uint32) string {
	s := ""
	for i, a := range slices.Sorted(slices.Values(asns)) {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("AS%d", a)
	}
	return s
}
