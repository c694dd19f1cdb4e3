// Package metrics defines the operator's Prometheus metrics, registered with
// controller-runtime's registry (served on the manager's metrics endpoint).
package metrics

import (
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
)

func init() {
	crmetrics.Registry.MustRegister(SessionUp, SessionState, PrefixesReceived, PrefixesAccepted, PrefixLimit,
		ApplyDuration, ApplyErrors, NeighborChanges, DriftHeld, NeighborsHeld, StoredFilters)
}

// BGP FSM states, for SessionState.
var States = []string{"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}
