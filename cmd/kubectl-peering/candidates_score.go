package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// scoreWeights weigh the parts of the hit list's score (--weight-*).
type scoreWeights struct {
	Traffic, Type, Locations, Policy float64
}

// scoreParts are a candidate's parts of the score, each 0 to 1; Type is
// not used with measured traffic (the bytes say what the type guesses).
type scoreParts struct {
	Traffic   float64 `json:"traffic"`
	Type      float64 `json:"type"`
	Locations float64 `json:"locations"`
	Policy    float64 `json:"policy"`
}

func (w scoreWeights) check(measured bool) error {
	for name, v := range map[string]float64{"traffic": w.Traffic, "type": w.Type, "locations": w.Locations, "policy": w.Policy} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("--weight-%s %v: want a number of 0 or more", name, v)
		}
	}
	if w.sum(measured) == 0 {
		return fmt.Errorf("every --weight-* that applies is 0: nothing would rank the candidates")
	}
	return nil
}

func (w scoreWeights) sum(measured bool) float64 {
	s := w.Traffic + w.Locations + w.Policy
	if !measured {
		s += w.Type
	}
	return s
}

// parts scores one candidate; maxBytes is the largest traffic of any.
func (w scoreWeights) parts(h *hit, ourType string, measured bool, maxBytes uint64) scoreParts {
	var p scoreParts
	if measured {
		if maxBytes > 0 {
			p.Traffic = float64(h.bytes) / float64(maxBytes)
		}
	} else {
		p.Traffic = trafficBandPart(h.net.InfoTraffic)
		p.Type = typeFit(ourType, h.net)
	}
	p.Locations = float64(min(len(h.ixs)+len(h.facs), 4)) / 4
	switch h.net.PolicyGeneral {
	case peeringdb.PolicyOpen:
		p.Policy = 1
	case peeringdb.PolicySelective:
		p.Policy = 0.5
	}
	// Round so that the JSON shows what the score was computed from.
	for _, f := range []*float64{&p.Traffic, &p.Type, &p.Locations, &p.Policy} {
		*f = math.Round(*f*1000) / 1000
	}
	return p
}

func (w scoreWeights) score(p scoreParts, measured bool) float64 {
	s := w.Traffic*p.Traffic + w.Locations*p.Locations + w.Policy*p.Policy
	if !measured {
		s += w.Type * p.Type
	}
	return 100 * s / w.sum(measured)
}

// describe is the formula in use, for the summary line; source names the
// measured traffic, "" for none.
func (w scoreWeights) describe(source string) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	if source != "" {
		return fmt.Sprintf("%s bytes ×%s, locations ×%s, policy ×%s", source, f(w.Traffic), f(w.Locations), f(w.Policy))
	}
	return fmt.Sprintf("PeeringDB traffic band ×%s, type ×%s, locations ×%s, policy ×%s", f(w.Traffic), f(w.Type), f(w.Locations), f(w.Policy))
}

// trafficBandPart puts PeeringDB's info_traffic on a log scale:
// log10(1 + lower bound in Mbit/s) / 8, 100+Tbps (10^8 Mbit/s) being 1.
func trafficBandPart(band string) float64 {
	lo := trafficLevel(band)
	if lo < 0 {
		return 0
	}
	return min(math.Log10(1+float64(lo))/8, 1)
}

// Network kinds for "content loves eyeballs".
const (
	kindOther = iota
	kindContent
	kindEyeball
	kindTransit
	kindUnknown
)

func networkKind(t string) int {
	switch strings.TrimSpace(t) {
	case "Content":
		return kindContent
	case "Cable/DSL/ISP":
		return kindEyeball
	case "NSP":
		return kindTransit
	case "", "Not Disclosed":
		return kindUnknown
	}
	return kindOther
}

// typeFit is how well their type complements ours, 0.25 to 1 (the table
// is in candidates --help). A network with several types (info_types)
// counts by its best.
func typeFit(ours string, their peeringdb.Network) float64 {
	types := slices.Clone(their.InfoTypes)
	if len(types) == 0 {
		types = []string{their.InfoType}
	}
	best := 0.0
	for _, t := range types {
		best = max(best, kindFit(networkKind(ours), networkKind(t)))
	}
	return best
}

func kindFit(ours, their int) float64 {
	switch {
	case their == kindUnknown || their == kindOther:
		return 0.25
	case ours == kindContent:
		return map[int]float64{kindEyeball: 1, kindTransit: 0.5, kindContent: 0.25}[their]
	case ours == kindEyeball:
		return map[int]float64{kindContent: 1, kindTransit: 0.5, kindEyeball: 0.5}[their]
	}
	// Ours NSP, other or unknown: both ends of the market are worth it.
	return map[int]float64{kindContent: 0.75, kindEyeball: 0.75, kindTransit: 0.5}[their]
}
