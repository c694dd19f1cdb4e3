package metrics

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// TestSeries: Series reads every collector's name and labels, histograms
// as the three series a query sees.
func TestSeries(t *testing.T) {
	s := Series()
	want := map[string][]string{
		"peering_session_up":                               {"address", "peer_asn", "request", "router"},
		"peering_session_state":                            {"address", "peer_asn", "request", "router", "state"},
		"peering_router_apply_duration_seconds_bucket":     {"le", "result", "router"},
		"peering_router_apply_duration_seconds_count":      {"result", "router"},
		"peering_router_apply_errors_total":                {"router"},
		"peering_filterstore_filters":                      nil,
		"peering_request_pending_approval_since_seconds":   {"ixport", "peer_asn", "request"},
		"peering_peeringdb_last_success_timestamp_seconds": nil,
	}
	for name, labels := range want {
		got, ok := s[name]
		if !ok {
			t.Errorf("Series has no %s", name)
			continue
		}
		if !slices.Equal(got, labels) {
			t.Errorf("Series()[%s] = %v, want %v", name, got, labels)
		}
	}
	if _, ok := s["peering_router_apply_duration_seconds"]; ok {
		t.Error("a histogram's own name is no series")
	}
}

// TestCollectorsRegistered: what Series lists is what the manager serves.
func TestCollectorsRegistered(t *testing.T) {
	for _, c := range collectors {
		var are prometheus.AlreadyRegisteredError
		if err := crmetrics.Registry.Register(c); !errors.As(err, &are) {
			t.Errorf("collector %T is not registered with controller-runtime's registry (Register: %v)", c, err)
			if err == nil {
				crmetrics.Registry.Unregister(c)
			}
		}
	}
}

// TestIsMaxPrefixTrip with each driver's words for a trip.
func TestIsMaxPrefixTrip(t *testing.T) {
	for _, tc := range []struct {
		state, lastError string
		want             bool
	}{
		{"Idle", "maximum prefix limit 100 exceeded; session held down (NOTIFICATION sent: Cease/Maximum Number of Prefixes Reached)", true}, // frr
		{"Idle", "maximum prefix limit 100 exceeded: GoBGP holds the session down (admin state PFX_CT) until it is cleared", true},           // gobgp
		{"Active", "maximum prefix limit 100 exceeded; session held down (NOTIFICATION: Cease)", true},                                       // junos
		{"Idle", "maximum prefix limit 100 exceeded; session held down (MaxRoutes)", true},                                                   // eos
		{"Idle", "maximum prefix limit 100 exceeded; session held down (Peer exceeding maximum prefix limit)", true},                         // iosxr
		{"Idle", "NOTIFICATION received: Cease/Administratively Shutdown", false},
		{"Idle", "administratively down", false},
		{"Active", "", false},
		// Back up after a restart: the old error is history.
		{"Established", "maximum prefix limit 100 exceeded; session held down", false},
	} {
		if got := IsMaxPrefixTrip(tc.state, tc.lastError); got != tc.want {
			t.Errorf("IsMaxPrefixTrip(%q, %q) = %v, want %v", tc.state, tc.lastError, got, tc.want)
		}
	}
}

// TestPeeringDBCollector: nothing before a cache is hooked up, no
// timestamp before the first success, then both read at scrape time.
func TestPeeringDBCollector(t *testing.T) {
	c := peeringDBCollector{}
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d series before SetPeeringDBStatus, want none", n)
	}
	st := PeeringDBStatus{Stale: true}
	SetPeeringDBStatus(func() PeeringDBStatus { return st })
	t.Cleanup(func() { peeringDBStatus.Store(nil) })
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP peering_peeringdb_stale 1 while the last PeeringDB sync failed and the cache serves older data, else 0.
# TYPE peering_peeringdb_stale gauge
peering_peeringdb_stale 1
`)); err != nil {
		t.Error(err)
	}
	st = PeeringDBStatus{LastSuccess: time.Unix(1700000000, 500_000_000)}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP peering_peeringdb_last_success_timestamp_seconds When the last successful PeeringDB sync started (Unix seconds); absent before the first.
# TYPE peering_peeringdb_last_success_timestamp_seconds gauge
peering_peeringdb_last_success_timestamp_seconds 1.7000000005e+09
# HELP peering_peeringdb_stale 1 while the last PeeringDB sync failed and the cache serves older data, else 0.
# TYPE peering_peeringdb_stale gauge
peering_peeringdb_stale 0
`)); err != nil {
		t.Error(err)
	}
}
