package peeringapi

import (
	"context"
	"net/http"
	"strconv"
)

// listLocations (GET /locations?asn=&location_type=&max_results=&next_token=)
// lists our IXPorts: where the caller may request sessions with us, with
// our addresses there.
func (s *Server) listLocations(ctx context.Context, c *Caller, w http.ResponseWriter, r *http.Request) *apiError {
	q := r.URL.Query()
	if v := q.Get("asn"); v != "" {
		// The draft and the OpenAPI disagree on whose ASN this is; any
		// valid ASN is taken, the answer is the same.
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 1 || n > 4294967295 {
			return refuse(http.StatusBadRequest, "asn", "must be an ASN, 1..4294967295")
		}
	}
	switch t := q.Get("location_type"); t {
	case "", LocationPublic, LocationPrivate:
	default:
		return refuse(http.StatusBadRequest, "location_type", "must be public or private")
	}
	offset, limit, e := page(q)
	if e != nil {
		return e
	}
	resp := ListLocationsResponse{Locations: []Location{}}
	if q.Get("location_type") == LocationPrivate {
		writeJSON(w, http.StatusOK, resp)
		return nil
	}
	ports, err := s.ports(ctx)
	if err != nil {
		return refuse(http.StatusInternalServerError, "request", "our locations could not be read; retry later")
	}
	var all []Location
	for _, p := range ports {
		l := Location{ID: p.location(), Type: LocationPublic}
		for _, pf := range p.prefixes {
			l.PeerIPs = append(l.PeerIPs, pf.Addr().String())
		}
		all = append(all, l)
	}
	if offset < len(all) {
		end := min(offset+limit, len(all))
		resp.Locations = all[offset:end]
		if end < len(all) {
			resp.NextToken = strconv.Itoa(end)
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
