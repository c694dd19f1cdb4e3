package controllers

import (
	"github.com/peering-operator/peering-operator/internal/metrics"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// exportPeeringDBMetrics has every scrape read the cache's health, so a
// refresher that stopped shows as well as one that fails.
func exportPeeringDBMetrics(c *peeringdb.Cache) {
	metrics.SetPeeringDBStatus(func() metrics.PeeringDBStatus {
		st := c.Status()
		return metrics.PeeringDBStatus{LastSuccess: st.LastSync, Stale: st.Stale}
	})
}
