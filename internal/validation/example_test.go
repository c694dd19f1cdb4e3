package validation_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
	"github.com/peering-operator/peering-operator/internal/validation"
)

// The controller's flow: load what the request needs into the cache, then
// validate against the cache only.
func ExampleValidateRequest() {
	srv := pdbtest.NewServer(pdbtest.Options{}) // the real sample
	defer srv.Close()
	// Unlimited only because this is a local test server.
	client, _ := peeringdb.New(peeringdb.Options{BaseURL: srv.BaseURL, RequestsPerMinute: peeringdb.Unlimited})
	cache := peeringdb.NewCache(client, peeringdb.CacheOptions{})

	ctx := context.Background()
	if err := cache.EnsureLoaded(ctx, 31, 6939); err != nil {
		fmt.Println("retry later:", peeringdb.IsRetryable(err), err)
		return
	}
	r := validation.ValidateRequest(cache, validation.Request{IXID: 31, PeerASN: 6939})
	fmt.Println(r.OK(), r.Peer.Name, r.Peer.PolicyGeneral, r.Peer.ASSets)
	for _, s := range r.Sessions {
		fmt.Println(s.Family, s.Address)
	}

	r = validation.ValidateRequest(cache, validation.Request{IXID: 31, PeerASN: 6939,
		Addresses: []netip.Addr{netip.MustParseAddr("80.81.192.173")}})
	fmt.Println(r.Reason(), r.Final())
	// Output:
	// true Hurricane Electric Open [RADB::AS-HURRICANE RADB::AS-HURRICANEV6]
	// ipv4 80.81.192.172
	// ipv6 2001:7f8::1b1b:0:1
	// AddressMismatch true
}
