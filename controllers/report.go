package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/report"
)

// +kubebuilder:rbac:groups=peering.dev,resources=peeringreports,verbs=get;list;watch;create;update

// ReportRecorder records the peering coordinator's numbers in one
// PeeringReport per period (kubectl peering report shows the trend). It
// runs on the leader: every Interval it observes the cluster and writes
// the current period's report only when it is missing or its numbers
// changed.
type ReportRecorder struct {
	// Client lists requests, IXPorts and Routers (the manager's cache) and
	// writes reports.
	Client client.Client
	// Reader reads the current report from the API server, so a report
	// written a moment ago is never created twice.
	Reader client.Reader
	// PeeringDB answers which networks are at our IXs.
	PeeringDB *peeringdb.Cache
	// Period is how often a new report starts (default monthly).
	Period report.Period
	// Interval between snapshots (default 1h).
	Interval time.Duration
	// TrafficFile is a CSV of asn,bytes; "" records no traffic share.
	TrafficFile string
	// Now is the clock (tests set it).
	Now func() time.Time

	// incomplete: the last snapshot missed an IX's PeeringDB data.
	incomplete bool
}

// Start records a snapshot a minute after it starts, then every Interval
// until ctx ends.
func (r *ReportRecorder) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("report")
	interval := r.Interval
	if interval <= 0 {
		interval = time.Hour
	}
	// The first snapshot waits a minute: a new leader's caches and the
	// PeeringDB loads its IXPorts start need that long to fill.
	first := time.NewTimer(min(interval, time.Minute))
	select {
	case <-ctx.Done():
		first.Stop()
		return nil
	case <-first.C:
	}
	for {
		next := interval
		if _, err := r.Record(ctx); err != nil {
			log.Error(err, "failed to record the peering report; retrying at the next interval", "interval", interval)
		}
		if r.incomplete {
			// Just started: PeeringDB's data for an IX is loading. Look
			// again soon rather than show a short count for an interval.
			next = min(interval, time.Minute)
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Record takes one snapshot: observe, compute, at most one write. It says
// which write it made.
func (r *ReportRecorder) Record(ctx context.Context) (reportWrite, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	obs := reportObserved{Now: metav1.NewTime(now().UTC().Truncate(time.Second)), Period: r.Period}
	if obs.Period == (report.Period{}) {
		obs.Period = report.Monthly
	}
	in, err := r.observe(ctx, obs.Now.Time)
	if err != nil {
		return reportNone, err
	}
	obs.Numbers = report.Compute(in).Spec
	r.incomplete = len(obs.Numbers.IXPortsWithoutData) > 0
	name, _, _ := obs.Period.Of(obs.Now.Time)
	var cur peeringv1.PeeringReport
	switch err := r.Reader.Get(ctx, client.ObjectKey{Name: name}, &cur); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return reportNone, fmt.Errorf("failed to read PeeringReport %s: %w", name, err)
	default:
		obs.Existing = &cur
	}
	obj, w := computeReport(obs)
	switch w {
	case reportCreate:
		err = r.Client.Create(ctx, obj)
	case reportUpdate:
		err = r.Client.Update(ctx, obj) // resourceVersion from the read: a concurrent writer makes this fail, not overwrite
	}
	if err != nil {
		return reportNone, fmt.Errorf("failed to write PeeringReport %s: %w", name, err)
	}
	return w, nil
}

// observe reads what the numbers depend on.
func (r *ReportRecorder) observe(ctx context.Context, now time.Time) (report.Input, error) {
	in := report.Input{Now: now}
	var prs peeringv1.PeeringRequestList
	if err := r.Client.List(ctx, &prs); err != nil {
		return in, fmt.Errorf("failed to list PeeringRequests: %w", err)
	}
	in.Requests = prs.Items
	var ports peeringv1.IXPortList
	if err := r.Client.List(ctx, &ports); err != nil {
		return in, fmt.Errorf("failed to list IXPorts: %w", err)
	}
	var routers peeringv1.RouterList
	if err := r.Client.List(ctx, &routers); err != nil {
		return in, fmt.Errorf("failed to list Routers: %w", err)
	}
	localASN := map[string]uint32{}
	for _, rt := range routers.Items {
		localASN[rt.Name] = uint32(rt.Spec.LocalASN)
	}
	slices.SortFunc(ports.Items, func(a, b peeringv1.IXPort) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range ports.Items {
		port := report.Port{Name: p.Name, IXID: int(p.Spec.IX.PeeringDBID)}
		port.Networks, port.Known = report.Networks(r.PeeringDB, port.IXID, localASN[p.Spec.RouterRef.Name])
		in.Ports = append(in.Ports, port)
	}
	if r.TrafficFile != "" {
		t, err := report.ReadTraffic(r.TrafficFile)
		if err != nil {
			return in, fmt.Errorf("--report-traffic-file: %w", err)
		}
		in.Traffic = t
	}
	return in, nil
}
