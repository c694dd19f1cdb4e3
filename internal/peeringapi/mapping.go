package peeringapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// LabelRequestID carries the Peering API request id on the PeeringRequests
// of one POST /sessions, so GET /sessions?request_id= finds them.
const LabelRequestID = "peering.dev/peering-api-request-id"

// requestName is the PeeringRequest of one session: the same session asked
// twice is the same object, so a retried POST creates nothing new.
func requestName(asn int64, portName string, addr netip.Addr) string {
	a := strings.NewReplacer(".", "-", ":", "-").Replace(addr.StringExpanded())
	n := fmt.Sprintf("as%d-%s-%s", asn, portName, a)
	if len(n) > 253 {
		h := sha256.Sum256([]byte(n))
		n = n[:240] + "-" + hex.EncodeToString(h[:6])
	}
	return n
}

// sessionState maps a request's live status to the draft's statuses for
// one of its addresses.
func sessionState(pr *peeringv1.PeeringRequest, addr string) string {
	conds := pr.Status.Conditions
	switch {
	case meta.IsStatusConditionTrue(conds, peeringv1.PeeringRequestDenied):
		return StatusRejected
	case !pr.DeletionTimestamp.IsZero():
		return StatusDown
	case meta.IsStatusConditionTrue(conds, peeringv1.PeeringRequestApproved):
	case meta.IsStatusConditionTrue(conds, peeringv1.ConditionStalled):
		// Our checks refused it for good (not at the IX, an address
		// PeeringDB does not list): it will not be configured.
		return StatusRejected
	default:
		return StatusPending
	}
	i := slices.IndexFunc(pr.Status.Sessions, func(s peeringv1.SessionStatus) bool { return s.Address == addr })
	if i >= 0 && pr.Status.Sessions[i].State == "Established" {
		return StatusEstablished
	}
	if pr.Spec.Shutdown || (i >= 0 && pr.Status.Sessions[i].EstablishedTime != nil) {
		return StatusDown
	}
	return StatusApproved
}

// addresses are a request's sessions: what the status reports, else what
// the spec names.
func addresses(pr *peeringv1.PeeringRequest) []string {
	var out []string
	for _, s := range pr.Status.Sessions {
		out = append(out, s.Address)
	}
	if len(out) == 0 {
		out = slices.Clone(pr.Spec.Addresses)
	}
	slices.Sort(out)
	return out
}

// sessionID of one address of a request: the request's UID when it has one
// session (every request made through the API), else UID@address.
func sessionID(pr *peeringv1.PeeringRequest, addr string, n int) string {
	if n == 1 {
		return string(pr.UID)
	}
	return string(pr.UID) + "@" + addr
}

// sessionsOf renders a request's sessions; p is its port (may be zero when
// the port is gone).
func sessionsOf(pr *peeringv1.PeeringRequest, p port) []Session {
	addrs := addresses(pr)
	var out []Session
	for _, a := range addrs {
		s := Session{LocalASN: int64(pr.Spec.PeerASN), LocalIP: a, PeerASN: p.localASN, PeerType: LocationPublic,
			Location: Location{ID: p.location(), Type: LocationPublic}, Status: sessionState(pr, a), SessionID: sessionID(pr, a, len(addrs))}
		if addr, err := netip.ParseAddr(a); err == nil {
			if ours, ok := p.ours(addr); ok {
				s.PeerIP = ours.Addr().String()
			}
		}
		out = append(out, s)
	}
	return out
}
