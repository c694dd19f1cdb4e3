package controllers

import (
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/router"
)

// Reasons of the Configured condition set from the Router controller's view.
const (
	ReasonConfigured           = "Configured"
	ReasonInvalidForRouter     = "InvalidForRouter"
	ReasonPasswordSecretError  = "PasswordSecretError"
	ReasonWaitingForRouter     = "WaitingForRouter"
	ReasonNeighborRemovalWaits = "NeighborRemovalPending"
)

// candidate is one request on the router with what the Router controller
// fetched for it.
type candidate struct {
	PR *peeringv1.PeeringRequest
	// Password from the request's Secret; PasswordErr when it could not
	// be read.
	Password    router.Secret
	PasswordErr error
}

// desiredResult is the router's desired neighbor set.
type desiredResult struct {
	Desired router.Desired
	// Rejected requests, by owner, with the reason they are not pushed.
	Rejected map[string]rejection
	// Waiting lists owners whose filters are not in memory: the router is
	// not applied until they are, so their neighbors are neither removed
	// nor changed on a guess.
	Waiting []string
}

type rejection struct{ Reason, Message string }

// eligible says whether a request may reach a router: approved, never
// denied, validated for its current generation, and not being deleted.
func eligible(pr *peeringv1.PeeringRequest) bool {
	isTrue := func(t string) *metav1.Condition {
		c := meta.FindStatusCondition(pr.Status.Conditions, t)
		if c == nil || c.Status != metav1.ConditionTrue {
			return nil
		}
		return c
	}
	v := isTrue(peeringv1.PeeringRequestPeeringDBValidated)
	return pr.DeletionTimestamp.IsZero() &&
		isTrue(peeringv1.PeeringRequestApproved) != nil &&
		isTrue(peeringv1.PeeringRequestDenied) == nil &&
		v != nil && v.ObservedGeneration == pr.Generation &&
		pr.Status.ObservedGeneration == pr.Generation
}

// desiredFor builds the neighbors of every eligible request on rt. filters
// gives the in-memory filter of a request and family.
func desiredFor(rt *peeringv1.Router, cands []candidate, live func(types.UID, int) *policy.CachedFilter) desiredResult {
	res := desiredResult{
		Desired:  router.Desired{LocalASN: uint32(rt.Spec.LocalASN), RouterID: netip.MustParseAddr(rt.Spec.RouterID)},
		Rejected: map[string]rejection{},
	}
	seen := map[netip.Addr]string{}
	for _, c := range cands {
		pr := c.PR
		if !eligible(pr) {
			continue
		}
		owner := pr.Namespace + "/" + pr.Name
		if c.PasswordErr != nil {
			res.Rejected[owner] = rejection{ReasonPasswordSecretError, c.PasswordErr.Error()}
			continue
		}
		desc, err := neighborDescription(pr)
		if err != nil {
			res.Rejected[owner] = rejection{ReasonInvalidForRouter, err.Error()}
			continue
		}
		var ns []router.Neighbor
		waiting, bad := false, ""
		bogonPeer, _ := policy.BogonASN(uint32(pr.Spec.PeerASN))
		for _, s := range pr.Status.Sessions {
			addr, err := netip.ParseAddr(s.Address)
			if err != nil {
				bad = fmt.Sprintf("session address %q is not an IP address", s.Address)
				break
			}
			if other, dup := seen[addr]; dup {
				bad = fmt.Sprintf("address %s is also configured for %s on Router %q", addr, other, rt.Name)
				break
			}
			fam := 4
			if addr.Is6() {
				fam = 6
			}
			f := live(pr.UID, fam)
			if f == nil {
				waiting = true
				break
			}
			n := router.Neighbor{
				Address: addr, PeerASN: uint32(pr.Spec.PeerASN), Description: desc,
				RouteServerClient: rt.Spec.RouteServer, Shutdown: pr.Spec.Shutdown,
				Import: toRouterEntries(f), Password: c.Password, Owner: owner,
				// Every peer of ours sends its own routes first-hand; a
				// transparent IX route server as a peer is not modelled yet.
				// A peer whose own AS is a bogon (a lab) would lose every
				// route to the bogon check, so it is skipped there.
				RejectBogonASNs: !bogonPeer, EnforceFirstAS: true,
			}
			if s.Limit != nil && *s.Limit > 0 {
				n.MaxPrefixes = uint32(min(*s.Limit, int64(^uint32(0))))
			}
			if err := n.Validate(); err != nil {
				bad = err.Error()
				break
			}
			ns = append(ns, n)
		}
		switch {
		case bad != "":
			res.Rejected[owner] = rejection{ReasonInvalidForRouter, bad}
		case waiting:
			res.Waiting = append(res.Waiting, owner)
		default:
			for _, n := range ns {
				seen[n.Address] = owner
			}
			res.Desired.Neighbors = append(res.Desired.Neighbors, ns...)
		}
	}
	return res
}

// neighborDescription is spec.description, else "AS<n> <PeeringDB name>"
// with the characters a router CLI cannot take safely left out (PeeringDB
// names are outside input too).
func neighborDescription(pr *peeringv1.PeeringRequest) (string, error) {
	if d := pr.Spec.Description; d != "" {
		if err := router.SafeText(d, 200); err != nil {
			return "", fmt.Errorf("spec.description cannot be rendered into a router configuration: %v; use printable ASCII without quotes or ;|#!\\{}$<>`", err)
		}
		return d, nil
	}
	name := ""
	if pr.Status.Peer != nil {
		name = strings.Map(func(r rune) rune {
			if router.SafeText(string(r), 1) != nil {
				return -1
			}
			return r
		}, pr.Status.Peer.Name)
	}
	return strings.TrimSpace(fmt.Sprintf("AS%d %s", pr.Spec.PeerASN, name)), nil
}

func toRouterEntries(f *policy.CachedFilter) []router.Entry {
	out := make([]router.Entry, len(f.Entries))
	for i, e := range f.Entries {
		out[i] = router.Entry{Prefix: e.Prefix, Exact: e.Exact, GE: e.GE, LE: e.LE}
	}
	return out
}
