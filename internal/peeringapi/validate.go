package peeringapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// decodeSessions reads a POST /sessions body: a Session Array object or,
// as the OpenAPI's requestBody has it, a bare array of sessions. Unknown
// fields, trailing data and wrong types are refused.
func (s *Server) decodeSessions(w http.ResponseWriter, r *http.Request) (*SessionArray, *apiError) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return nil, refuse(http.StatusUnsupportedMediaType, "request", "send the sessions as application/json, not %.40q", ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, refuse(http.StatusRequestEntityTooLarge, "request", "the body is larger than %d bytes", s.opts.MaxBodyBytes)
	case err != nil:
		return nil, refuse(http.StatusBadRequest, "request", "the body could not be read: %v", err)
	}
	body = bytes.TrimSpace(body)
	var arr SessionArray
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if len(body) > 0 && body[0] == '[' {
		err = dec.Decode(&arr.Sessions)
	} else {
		err = dec.Decode(&arr)
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "request", "the body is not a Session Array: %s", jsonError(err))
	}
	if len(arr.Sessions) == 0 {
		return nil, refuse(http.StatusBadRequest, "sessions", "name at least one session")
	}
	if len(arr.Sessions) > s.opts.MaxSessions {
		return nil, refuse(http.StatusBadRequest, "sessions", "at most %d sessions per request, got %d", s.opts.MaxSessions, len(arr.Sessions))
	}
	if len(arr.RequestID) > 64 {
		return nil, refuse(http.StatusBadRequest, "request_id", "at most 64 characters")
	}
	if arr.ReturnURL != "" {
		if u, err := url.Parse(arr.ReturnURL); err != nil || u.Scheme != "https" || u.Host == "" || len(arr.ReturnURL) > 512 {
			return nil, refuse(http.StatusBadRequest, "return_url", "must be an https URL of at most 512 characters")
		}
	}
	return &arr, nil
}

// jsonError says what the decoder refused, without echoing the body.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("field %s must be %s, not %s", te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// checked is a validated session and the port it is on.
type checked struct {
	s    Session
	port port
	addr netip.Addr
}

// checkSessions validates every session of a request against our ports and
// the caller's token. Authorisation failures are 403, the rest 400; all are
// reported at once.
func checkSessions(c *Caller, sessions []Session, ports []port) ([]checked, *apiError) {
	forbidden := &apiError{code: http.StatusForbidden}
	bad := &apiError{code: http.StatusBadRequest}
	var out []checked
	seen := map[string]int{}
	for i, s := range sessions {
		f := func(name string) string { return fmt.Sprintf("sessions[%d].%s", i, name) }
		if s.LocalASN < 1 || s.LocalASN > 4294967295 || s.LocalASN == 23456 {
			bad.add(f("local_asn"), "must be your ASN, 1..4294967295 and not AS_TRANS 23456")
			continue
		}
		if !c.MayWrite(s.LocalASN) {
			forbidden.add(f("local_asn"), "your token does not authorise requests for AS%d (it names %v with write permission needed)", s.LocalASN, c.ASNs())
			continue
		}
		checkOptions(s, f, bad)
		id, ok := strings.CutPrefix(s.Location.ID, "pdb:ix:")
		ixID, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil || ixID <= 0 {
			bad.add(f("location.id"), "must be pdb:ix:<PeeringDB ix id> (GET /locations lists ours)")
			continue
		}
		if t := s.Location.Type; t != "" && t != LocationPublic {
			bad.add(f("location.type"), "only public peering is served, not %.20q", t)
		}
		local, err1 := netip.ParseAddr(s.LocalIP)
		peer, err2 := netip.ParseAddr(s.PeerIP)
		if err1 != nil || local.Zone() != "" {
			bad.add(f("local_ip"), "must be your router's address on the IX LAN, e.g. 192.0.2.10")
		}
		if err2 != nil || peer.Zone() != "" {
			bad.add(f("peer_ip"), "must be our address at the location (GET /locations lists them)")
		}
		if err1 != nil || err2 != nil {
			continue
		}
		var p port
		var pf netip.Prefix
		found := false
		for _, cand := range ports {
			if cand.ixID != ixID {
				continue
			}
			if o, ok := cand.ours(peer); ok && o.Addr() == peer {
				p, pf, found = cand, o, true
				break
			}
		}
		if !found {
			bad.add(f("peer_ip"), "%s is not our address at pdb:ix:%d (GET /locations lists them)", peer, ixID)
			continue
		}
		if s.PeerASN != p.localASN {
			bad.add(f("peer_asn"), "our ASN at pdb:ix:%d is %d, not %d", ixID, p.localASN, s.PeerASN)
		}
		if local.Is4() != peer.Is4() || !pf.Masked().Contains(local) || local == peer || local == pf.Masked().Addr() {
			bad.add(f("local_ip"), "%s is not an address on the IX LAN %s", local, pf.Masked())
			continue
		}
		key := fmt.Sprintf("%d/%s", s.LocalASN, local)
		if j, dup := seen[p.name+key]; dup {
			bad.add(f("local_ip"), "the same session as sessions[%d]", j)
			continue
		}
		seen[p.name+key] = i
		out = append(out, checked{s: s, port: p, addr: local})
	}
	if len(forbidden.fields) > 0 {
		return nil, forbidden
	}
	if len(bad.fields) > 0 {
		return nil, bad
	}
	return out, nil
}

// checkOptions refuses what this server does not do rather than ignore it.
func checkOptions(s Session, f func(string) string, bad *apiError) {
	if s.Status != "" || s.SessionID != "" {
		bad.add(f("status"), "status and session_id are set by the server; leave them out")
	}
	if s.MD5 != "" || s.SessionSecret != "" {
		bad.add(f("session_secret"), "session passwords are not taken over the API: agree one with our NOC")
	}
	if t := s.PeerType; t != "" && t != LocationPublic {
		bad.add(f("peer_type"), "only public peering is served")
	}
	type role struct {
		name string
		v    *int
	}
	for _, r := range []role{{"local_bgp_role", s.LocalBGPRole}, {"peer_bgp_role", s.PeerBGPRole}} {
		if r.v != nil && *r.v != RolePeer {
			bad.add(f(r.name), "only settlement-free peering is served: role %d (Peer, RFC 9234)", RolePeer)
		}
	}
	type flag struct {
		name      string
		v         *bool
		forbidden bool
		why       string
	}
	for _, b := range []flag{
		{"local_insert_asn", s.LocalInsertASN, false, "route-server sessions are not requested over the API"},
		{"peer_insert_asn", s.PeerInsertASN, false, "route-server sessions are not requested over the API"},
		{"local_monitoring_session", s.LocalMonitoringSession, true, "monitoring sessions are not served"},
		{"peer_monitoring_session", s.PeerMonitoringSession, true, "monitoring sessions are not served"},
	} {
		if b.v != nil && *b.v == b.forbidden {
			bad.add(f(b.name), "%s", b.why)
		}
	}
}
