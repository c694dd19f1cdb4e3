package main

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// prometheusTraffic runs the instant query of queryURL
// (http://HOST:9090/api/v1/query?query=PROMQL) at the plugin's clock and
// reads its vector as bytes per ASN, the ASN in label asnLabel ("15169"
// or "AS15169"). Series with the same ASN are summed, as in the CSV.
func prometheusTraffic(ctx context.Context, queryURL, asnLabel string) (map[uint32]uint64, error) {
	u, err := url.Parse(queryURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("--traffic-prometheus %q: want the URL of an instant query, http://HOST:9090/api/v1/query?query=PROMQL", queryURL)
	}
	q := u.Query().Get("query")
	base, ok := strings.CutSuffix(u.Path, "/api/v1/query")
	if !ok || q == "" {
		return nil, fmt.Errorf("--traffic-prometheus %q: want the URL of an instant query, http://HOST:9090/api/v1/query?query=PROMQL (path /api/v1/query and a query parameter)", queryURL)
	}
	addr := *u
	addr.Path, addr.RawQuery = base, ""
	c, err := api.NewClient(api.Config{Address: addr.String()})
	if err != nil {
		return nil, fmt.Errorf("--traffic-prometheus: %w", err)
	}
	v, _, err := promv1.NewAPI(c).Query(ctx, q, now())
	if err != nil {
		return nil, fmt.Errorf("--traffic-prometheus: query %q at %s failed: %w", q, addr.Host, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("--traffic-prometheus: query %q returned a %s; want an instant vector with one series per ASN (label %s), e.g. sum by (%s) (...)",
			q, v.Type(), asnLabel, asnLabel)
	}
	out := map[uint32]uint64{}
	for _, s := range vec {
		lv, ok := s.Metric[model.LabelName(asnLabel)]
		if !ok {
			return nil, fmt.Errorf("--traffic-prometheus: series %s has no label %s (--traffic-asn-label names the ASN label)", s.Metric, asnLabel)
		}
		asn, err := parseASN(string(lv))
		if err != nil {
			return nil, fmt.Errorf("--traffic-prometheus: series %s: %w", s.Metric, err)
		}
		f := float64(s.Value)
		if math.IsNaN(f) || f < 0 || f >= math.MaxUint64 {
			return nil, fmt.Errorf("--traffic-prometheus: series %s: %v is not a number of bytes", s.Metric, s.Value)
		}
		out[asn] += uint64(math.Round(f))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--traffic-prometheus: query %q returned no series at %s", q, now().UTC().Format("2006-01-02T15:04:05Z"))
	}
	return out, nil
}
