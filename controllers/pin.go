package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/validation"
)

// pinInput is what decides a request's pinned configuration.
type pinInput struct {
	Now      time.Time
	Approved bool
	// Pinned is the configuration pinned so far; nil before the first.
	Pinned *peeringv1.PinnedConfig
	// Drift is the change held so far, if any.
	Drift *peeringv1.DriftStatus
	// Validation is PeeringDB's answer now; nil when PeeringDB has not
	// answered for this request (an outage after a restart).
	Validation *validation.Result
	// Sessions the request would have now, with their limits (from a
	// clean validation).
	Sessions []peeringv1.PinnedSession
	// Filters are the IRR outcomes per family.
	Filters []familyFilter
	// Exports are the outcomes of the announce AS-SET per family, judged
	// like Filters; ExportsOff: a human configured none (or a request
	// narrows to prefixes), so a pinned export list goes.
	Exports    []familyFilter
	ExportsOff bool
	// AcceptDrift is the token a human accepted (annotation), AcceptedBy
	// who (stamped by the admission webhook).
	AcceptDrift, AcceptedBy string
	// Legacy are sessions the router has for an approved request that is
	// not pinned: an operator version that did not pin pushed them.
	Legacy []peeringv1.PinnedSession
}

// pinResult is the decision.
type pinResult struct {
	// Config to write; nil when the request is not pinned (yet).
	Config *peeringv1.PinnedConfig
	// Drift held for a human; nil when nothing is held.
	Drift *peeringv1.DriftStatus
	// DriftReason is the first held change's reason ("" when none).
	DriftReason string
	// Save are filters Config uses that are not pinned yet: they must be
	// persisted before Config is written.
	Save []*policy.CachedFilter
}

// change is one difference between the pinned configuration and what
// PeeringDB and the IRR say now.
type change struct{ reason, text string }

// decidePin pins what is pushed for an approved request. Nothing is
// pinned before approval and a clean validation with every filter built.
// Afterwards a change applies by itself only when it widens the session (a
// new address, a higher or removed limit, a filter the guard passes); a
// change that removes or narrows it (PeeringDB no longer validating the
// request, an address gone, a lower limit, a filter held by the guard) is
// held: the pin stays, and the drift says what changed and how to accept
// it. An outage of PeeringDB or the IRR changes nothing.
func decidePin(in pinInput) pinResult {
	if !in.Approved {
		return pinResult{}
	}
	if in.Pinned == nil && len(in.Legacy) > 0 {
		return legacyPin(in)
	}
	if in.Pinned == nil {
		return firstPin(in)
	}
	cur := in.Pinned
	next := map[netip.Addr]peeringv1.PinnedSession{}
	for _, s := range cur.Sessions {
		if a, err := netip.ParseAddr(s.Address); err == nil {
			next[a] = s
		}
	}
	// full is what accepting every held change gives.
	full := map[netip.Addr]peeringv1.PinnedSession{}
	var held []change
	var widened []string
	switch v := in.Validation; {
	case v == nil:
		full = next
	case !v.OK():
		for _, f := range v.Failures {
			held = append(held, change{f.Reason, "PeeringDB: " + f.Message})
		}
	default:
		cand := map[netip.Addr]peeringv1.PinnedSession{}
		for _, s := range in.Sessions {
			if a, err := netip.ParseAddr(s.Address); err == nil {
				cand[a] = s
			}
		}
		full = cand
		for _, a := range sortedAddrs(next, cand) {
			p, inP := next[a]
			c, inC := cand[a]
			switch {
			case inP && inC && c.Limit != p.Limit && wider(c.Limit, p.Limit):
				next[a] = c
				widened = append(widened, fmt.Sprintf("limit of %s raised from %s to %s", a, limitText(p.Limit), limitText(c.Limit)))
			case inP && inC && c.Limit != p.Limit:
				held = append(held, change{peeringv1.ReasonLimitLowered, fmt.Sprintf("the limit of %s would drop from %s to %s (PeeringDB's prefix count fell)", a, limitText(p.Limit), limitText(c.Limit))})
			case inC && !inP:
				next[a] = c
				widened = append(widened, fmt.Sprintf("new session %s (PeeringDB lists it)", a))
			case inP && !inC:
				held = append(held, change{peeringv1.ReasonAddressRemoved, fmt.Sprintf("PeeringDB no longer lists %s for AS%d at %s", a, v.Peer.ASN, v.IXName)})
			}
		}
	}

	nextF := map[int]string{4: cur.IPv4Filter, 6: cur.IPv6Filter}
	fullF := maps.Clone(nextF)
	cands := map[string]*policy.CachedFilter{}
	var updated []string
	take := func(fs []familyFilter, next, full map[int]string, what func(familyFilter) string) {
		for _, f := range fs {
			if f.Candidate == nil {
				continue // the IRR has not answered: keep what is pinned
			}
			d := f.Candidate.Summary.Digest
			cands[d] = f.Candidate
			full[f.Family] = d
			switch {
			case d == next[f.Family]:
			case f.OK:
				if next[f.Family] == "" {
					widened = append(widened, fmt.Sprintf("%s added (%d prefixes)", what(f), f.Candidate.Summary.Prefixes))
				} else {
					updated = append(updated, fmt.Sprintf("%s now %d prefixes in %d entries", what(f), f.Candidate.Summary.Prefixes, f.Candidate.Summary.Entries))
				}
				next[f.Family] = d
			default:
				held = append(held, change{f.Reason, f.Message})
			}
		}
	}
	take(in.Filters, nextF, fullF, func(f familyFilter) string { return fmt.Sprintf("IPv%d filter", f.Family) })

	nextX := map[int]string{4: cur.IPv4Export, 6: cur.IPv6Export}
	if in.ExportsOff {
		for _, fam := range []int{4, 6} {
			if nextX[fam] != "" {
				updated = append(updated, fmt.Sprintf("IPv%d export list from the announce AS-SET removed", fam))
			}
		}
		nextX = map[int]string{}
	}
	fullX := maps.Clone(nextX)
	take(in.Exports, nextX, fullX, func(f familyFilter) string {
		return fmt.Sprintf("IPv%d export list from %s", f.Family, strings.Join(f.Sets, " "))
	})

	if len(held) > 0 {
		fullCfg := withExports(pinnedConfig(full, fullF), fullX)
		token := driftToken(fullCfg.Digest, held)
		if in.AcceptDrift == token {
			fullCfg.Reason, fullCfg.Time = peeringv1.ReasonPinAccepted, metav1.NewTime(in.Now)
			fullCfg.Message = "a human accepted: " + joinChanges(held)
			if in.AcceptedBy != "" {
				fullCfg.Message = in.AcceptedBy + " accepted: " + joinChanges(held)
			}
			return pinResult{Config: keepIfSame(cur, fullCfg), Save: toSave(cur, fullCfg, cands)}
		}
		since := metav1.NewTime(in.Now)
		if in.Drift != nil {
			since = in.Drift.Since
		}
		texts := make([]string, len(held))
		for i, h := range held {
			texts[i] = h.text
		}
		res := pinResult{Drift: &peeringv1.DriftStatus{Token: token, Since: since, Changes: texts}, DriftReason: held[0].reason}
		cfg := withExports(pinnedConfig(next, nextF), nextX)
		cfg.Reason, cfg.Message = changeReason(widened, updated), strings.Join(append(widened, updated...), "; ")
		cfg.Time = metav1.NewTime(in.Now)
		res.Config, res.Save = keepIfSame(cur, cfg), toSave(cur, cfg, cands)
		return res
	}
	cfg := withExports(pinnedConfig(next, nextF), nextX)
	cfg.Reason, cfg.Message = changeReason(widened, updated), strings.Join(append(widened, updated...), "; ")
	cfg.Time = metav1.NewTime(in.Now)
	return pinResult{Config: keepIfSame(cur, cfg), Save: toSave(cur, cfg, cands)}
}

// firstPin pins the request at approval: every session PeeringDB validates,
// each with its family's filter.
func firstPin(in pinInput) pinResult {
	if in.Validation == nil || !in.Validation.OK() || len(in.Sessions) == 0 {
		return pinResult{}
	}
	sessions := map[netip.Addr]peeringv1.PinnedSession{}
	need := map[int]bool{}
	for _, s := range in.Sessions {
		a, err := netip.ParseAddr(s.Address)
		if err != nil {
			return pinResult{}
		}
		sessions[a] = s
		need[familyNumber(a)] = true
	}
	filters := map[int]string{}
	cands := map[string]*policy.CachedFilter{}
	for _, f := range in.Filters {
		if !f.OK || f.Candidate == nil {
			return pinResult{}
		}
		filters[f.Family] = f.Candidate.Summary.Digest
		cands[f.Candidate.Summary.Digest] = f.Candidate
	}
	for fam := range need {
		if filters[fam] == "" {
			return pinResult{}
		}
	}
	// What we announce from the AS-SET is part of what is approved: the
	// first pin waits for it like for the filters.
	exports := map[int]string{}
	for _, f := range in.Exports {
		if !f.OK || f.Candidate == nil {
			return pinResult{}
		}
		exports[f.Family] = f.Candidate.Summary.Digest
		cands[f.Candidate.Summary.Digest] = f.Candidate
	}
	cfg := withExports(pinnedConfig(sessions, filters), exports)
	cfg.Reason, cfg.Time = peeringv1.ReasonPinApproved, metav1.NewTime(in.Now)
	cfg.Message = fmt.Sprintf("pinned at approval: %d session(s)", len(cfg.Sessions))
	return pinResult{Config: cfg, Save: toSave(nil, cfg, cands)}
}

// legacyPin pins a request an earlier version pushed without pinning: what
// the router has is the baseline, so the first pin is held like any later
// change (an address PeeringDB dropped since stays). It waits while a
// family the router has sessions of has no filter, so those sessions are
// never left out (the Router controller holds them as they run meanwhile).
func legacyPin(in pinInput) pinResult {
	base := pinnedConfig(nil, nil)
	for _, s := range in.Legacy {
		base.Sessions = append(base.Sessions, s)
	}
	in.Pinned, in.Legacy = base, nil
	res := decidePin(in)
	if res.Config == nil || res.Config == base {
		return pinResult{}
	}
	for _, s := range in.Pinned.Sessions {
		if !slices.ContainsFunc(res.Config.Sessions, func(p peeringv1.PinnedSession) bool { return p.Address == s.Address }) {
			return pinResult{}
		}
	}
	res.Config.Reason = peeringv1.ReasonPinApproved
	res.Config.Message = fmt.Sprintf("pinned from what the router had (%d session(s)); %s", len(in.Pinned.Sessions), res.Config.Message)
	return res
}

// pinnedConfig builds a configuration; a session whose family has no
// filter is left out (a neighbor never goes up without its filter).
func pinnedConfig(sessions map[netip.Addr]peeringv1.PinnedSession, filters map[int]string) *peeringv1.PinnedConfig {
	cfg := &peeringv1.PinnedConfig{IPv4Filter: filters[4], IPv6Filter: filters[6]}
	for _, a := range sortedAddrs(sessions, nil) {
		if filters[familyNumber(a)] == "" {
			continue
		}
		cfg.Sessions = append(cfg.Sessions, sessions[a])
	}
	cfg.Digest = configDigest(cfg)
	return cfg
}

// withExports sets the export lists' digests of cfg.
func withExports(cfg *peeringv1.PinnedConfig, exports map[int]string) *peeringv1.PinnedConfig {
	cfg.IPv4Export, cfg.IPv6Export = exports[4], exports[6]
	cfg.Digest = configDigest(cfg)
	return cfg
}

// pinDigests are every filter and export list a pin uses.
func pinDigests(pin *peeringv1.PinnedConfig) []string {
	return slices.DeleteFunc([]string{pin.IPv4Filter, pin.IPv6Filter, pin.IPv4Export, pin.IPv6Export}, func(d string) bool { return d == "" })
}

// configDigest identifies what a configuration pushes.
func configDigest(c *peeringv1.PinnedConfig) string {
	h := sha256.New()
	for _, s := range c.Sessions {
		fmt.Fprintf(h, "%s %s %d\n", s.Address, s.Family, s.Limit)
	}
	fmt.Fprintf(h, "v4 %s\nv6 %s\n", c.IPv4Filter, c.IPv6Filter)
	if c.IPv4Export != "" || c.IPv6Export != "" {
		// Only then: a pin without exports keeps its digest.
		fmt.Fprintf(h, "x4 %s\nx6 %s\n", c.IPv4Export, c.IPv6Export)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:20]
}

// driftToken names a held change: what accepting it would pin, and why.
func driftToken(fullDigest string, held []change) string {
	h := sha256.New()
	h.Write([]byte(fullDigest))
	for _, c := range held {
		fmt.Fprintf(h, "\n%s %s", c.reason, c.text)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// keepIfSame returns cur when next pushes the same, so an unchanged
// request keeps its time and reason (and its status is not rewritten).
func keepIfSame(cur, next *peeringv1.PinnedConfig) *peeringv1.PinnedConfig {
	if cur != nil && cur.Digest == next.Digest {
		return cur
	}
	return next
}

// toSave lists the filters next uses that cur does not.
func toSave(cur, next *peeringv1.PinnedConfig, cands map[string]*policy.CachedFilter) []*policy.CachedFilter {
	var out []*policy.CachedFilter
	for _, d := range pinDigests(next) {
		if cur != nil && slices.Contains(pinDigests(cur), d) {
			continue
		}
		if f := cands[d]; f != nil {
			out = append(out, f)
		}
	}
	return out
}

func changeReason(widened, updated []string) string {
	if len(widened) > 0 {
		return peeringv1.ReasonPinWidened
	}
	return peeringv1.ReasonPinFilterUpdated
}

func joinChanges(cs []change) string {
	t := make([]string, len(cs))
	for i, c := range cs {
		t[i] = c.text
	}
	return strings.Join(t, "; ")
}

// wider: limit c lets at least as much through as p (0 is no limit).
func wider(c, p int64) bool { return c == 0 || (p != 0 && c >= p) }

func limitText(l int64) string {
	if l == 0 {
		return "none"
	}
	return fmt.Sprint(l)
}

func familyNumber(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// sortedAddrs is the union of the maps' keys, in address order.
func sortedAddrs(a, b map[netip.Addr]peeringv1.PinnedSession) []netip.Addr {
	var out []netip.Addr
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}
