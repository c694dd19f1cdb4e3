// Package metrics defines the operator's Prometheus metrics, registered with
// controller-runtime's registry (served on the manager's metrics endpoint).
package metrics

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// SessionUp is 1 for an Established session, 0 otherwise.
	SessionUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_session_up",
		Help: "1 when the BGP session is Established, else 0.",
	}, []string{"router", "request", "peer_asn", "address"})
	// SessionState is 1 for the session's current FSM state.
	SessionState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_session_state",
		Help: "BGP FSM state of the session: 1 for the current state.",
	}, []string{"router", "request", "peer_asn", "address", "state"})
	// PrefixesReceived, PrefixesAccepted and PrefixLimit per session, so
	// an alert can fire before a peer trips its limit.
	PrefixesReceived = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_session_prefixes_received",
		Help: "Prefixes received on the session.",
	}, []string{"router", "request", "peer_asn", "address"})
	PrefixesAccepted = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_session_prefixes_accepted",
		Help: "Prefixes accepted by the import filter.",
	}, []string{"router", "request", "peer_asn", "address"})
	PrefixLimit = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_session_prefix_limit",
		Help: "Configured max-prefix limit of the session (0: none).",
	}, []string{"router", "request", "peer_asn", "address"})
	// ApplyDuration of each configuration push, by result.
	ApplyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "peering_router_apply_duration_seconds",
		Help:    "Duration of a configuration apply to a router (diff, write, verify).",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	}, []string{"router", "result"})
	// ApplyErrors counts failed applies.
	ApplyErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "peering_router_apply_errors_total",
		Help: "Failed configuration applies per router.",
	}, []string{"router"})
	// DriftHeld is 1 while a request holds a change from PeeringDB or the
	// IRR for a human (reason: the first held change's).
	DriftHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_request_drift_held",
		Help: "1 while a change from PeeringDB or the IRR to a live request is held for a human to accept.",
	}, []string{"request", "peer_asn", "reason"})
	// NeighborsHeld counts a router's neighbors left as they run because
	// their configuration could not be built.
	NeighborsHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_router_neighbors_held",
		Help: "Neighbors left exactly as they run on the router because their configuration could not be built (filter or password unreadable, invalid value).",
	}, []string{"router"})
	// StoredFilters counts the pinned filters a replica holds in memory
	// (a standby's warmth).
	StoredFilters = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "peering_filterstore_filters",
		Help: "Pinned filters loaded in this replica's memory from their PrefixLists (a warm standby has them all).",
	})
	// NeighborChanges counts neighbors added, updated and removed.
	NeighborChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "peering_router_neighbor_changes_total",
		Help: "Neighbors added, updated or removed on a router.",
	}, []string{"router", "change"})

	// SessionAdminDown tells the sessions a human shut down from the ones
	// that failed: both are Idle in peering_session_state.
	SessionAdminDown = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_session_admin_down",
		Help: "1 while the session is administratively down on purpose (spec.shutdown, or a drain past its shutdownAfter), else 0.",
	}, []string{"router", "request", "peer_asn", "address"})
	// MaxPrefixTripped: after a trip the router flushes the peer's routes,
	// so accepted >= limit is never seen; the router's own word is used.
	MaxPrefixTripped = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_session_max_prefix_tripped",
		Help: "1 while the router holds the session down because its max-prefix limit tripped (until cleared or restarted), else 0.",
	}, []string{"router", "request", "peer_asn", "address"})
	// RequestInfo maps a request to its IXPort, so session series can be
	// summed per IX without an ixport label on each of them.
	RequestInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_request_info",
		Help: "1 for each request the Router controller reports sessions of, with its router and IXPort.",
	}, []string{"request", "peer_asn", "router", "ixport"})
	// PendingApprovalSince is the creation time of undecided requests, so
	// an alert can say how long a peer has been waiting.
	PendingApprovalSince = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_request_pending_approval_since_seconds",
		Help: "Creation time (Unix seconds) of a request that is neither approved nor denied; absent once decided.",
	}, []string{"request", "peer_asn", "ixport"})
	// FilterHeld covers the guard's holds before a request is pinned;
	// once pinned the same hold is peering_request_drift_held.
	FilterHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "peering_request_filter_held",
		Help: "1 while the filter guard holds a new filter of a request that is not pinned yet, for a human to accept.",
	}, []string{"request", "peer_asn", "reason"})
)

// PeeringDBStatus is the PeeringDB cache's health as a scrape reports it.
type PeeringDBStatus struct {
	// LastSuccess is when the last successful sync started (zero: none).
	LastSuccess time.Time
	// Stale: the last sync failed; the previous data is served.
	Stale bool
}

var (
	peeringDBStatus      atomic.Pointer[func() PeeringDBStatus]
	peeringDBLastSuccess = prometheus.NewDesc("peering_peeringdb_last_success_timestamp_seconds",
		"When the last successful PeeringDB sync started (Unix seconds); absent before the first.", nil, nil)
	peeringDBStale = prometheus.NewDesc("peering_peeringdb_stale",
		"1 while the last PeeringDB sync failed and the cache serves older data, else 0.", nil, nil)
)

// SetPeeringDBStatus makes every scrape read the cache's health through fn:
// a gauge set after each refresh would not show a refresher that stopped.
func SetPeeringDBStatus(fn func() PeeringDBStatus) { peeringDBStatus.Store(&fn) }

// peeringDBCollector reports the PeeringDB cache, once a source is set.
type peeringDBCollector struct{}

func (peeringDBCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- peeringDBLastSuccess
	ch <- peeringDBStale
}

func (peeringDBCollector) Collect(ch chan<- prometheus.Metric) {
	fn := peeringDBStatus.Load()
	if fn == nil {
		return
	}
	st := (*fn)()
	stale := 0.0
	if st.Stale {
		stale = 1
	}
	ch <- prometheus.MustNewConstMetric(peeringDBStale, prometheus.GaugeValue, stale)
	if !st.LastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(peeringDBLastSuccess, prometheus.GaugeValue, float64(st.LastSuccess.UnixMilli())/1e3)
	}
}

// collectors is everything this package registers; Series reads it.
var collectors = []prometheus.Collector{SessionUp, SessionState, PrefixesReceived, PrefixesAccepted, PrefixLimit,
	ApplyDuration, ApplyErrors, NeighborChanges, DriftHeld, NeighborsHeld, StoredFilters,
	SessionAdminDown, MaxPrefixTripped, RequestInfo, PendingApprovalSince, FilterHeld, peeringDBCollector{}}

func init() {
	crmetrics.Registry.MustRegister(collectors...)
}

// descParts reads a Desc's name and variable labels: client_golang has no
// accessors, but String shows both (Series panics when it no longer does).
var descParts = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*").*variableLabels: \{([^{}]*)\}\}$`)

// Series maps each series name the operator exports (a histogram's as
// _bucket, _sum and _count) to its label names, for checking alert rules,
// their tests and dashboards against. It panics on a Desc it cannot read,
// so a change of client_golang cannot make such a check pass on nothing.
func Series() map[string][]string {
	out := map[string][]string{}
	for _, c := range collectors {
		ch := make(chan *prometheus.Desc, 16)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			m := descParts.FindStringSubmatch(d.String())
			if m == nil {
				panic("metrics: cannot read the name and labels of " + d.String())
			}
			name, err := strconv.Unquote(m[1])
			if err != nil {
				panic("metrics: cannot read the name of " + d.String())
			}
			var labels []string
			for _, l := range strings.Split(m[2], ",") {
				if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
					labels = append(labels, l)
				}
			}
			sort.Strings(labels)
			switch c.(type) {
			case *prometheus.HistogramVec, prometheus.Histogram:
				out[name+"_bucket"] = sortedWith(labels, "le")
				out[name+"_sum"], out[name+"_count"] = labels, labels
			default:
				out[name] = labels
			}
		}
	}
	return out
}

func sortedWith(l []string, more string) []string {
	out := append(append([]string(nil), l...), more)
	sort.Strings(out)
	return out
}

// IsMaxPrefixTrip tells a session the router holds down after its
// max-prefix limit tripped: every driver words that LastError
// "maximum prefix limit N exceeded..." (their state tests pin it).
func IsMaxPrefixTrip(state, lastError string) bool {
	return state != "Established" && strings.HasPrefix(lastError, "maximum prefix limit ")
}

// BGP FSM states, for SessionState.
var States = []string{"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}
