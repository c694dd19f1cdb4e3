package bgptest

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

var (
	rsAddr    = netip.MustParseAddr("127.0.0.1")
	peerAddr  = netip.MustParseAddr("127.0.0.2")
	peer2Addr = netip.MustParseAddr("127.0.0.3")
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// readPDUs reads n PDUs from c.
func readPDUs(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var types []byte
	for i := 0; i < n; i++ {
		hdr := make([]byte, 8)
		if _, err := io.ReadFull(c, hdr); err != nil {
			t.Fatalf("read PDU %d: %v", i, err)
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[4:8])-8)
		if _, err := io.ReadFull(c, body); err != nil {
			t.Fatal(err)
		}
		types = append(types, hdr[1])
		if hdr[1] == rtrIPv4Prefix {
			if body[0] != 1 || body[1] != 16 || body[2] != 24 || !slices.Equal(body[4:8], []byte{10, 20, 0, 0}) || binary.BigEndian.Uint32(body[8:12]) != 65099 {
				t.Errorf("IPv4 Prefix PDU body %v", body)
			}
		}
	}
	return types
}

func TestRTRServerProtocol(t *testing.T) {
	s := StartRTR(t, []VRP{
		{Prefix: netip.MustParsePrefix("10.20.0.0/16"), MaxLen: 24, ASN: 65099},
		{Prefix: netip.MustParsePrefix("2001:db8::/32"), MaxLen: 48, ASN: 65099},
	})
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, version := range []byte{0, 1} {
		c.Write(pdu(version, rtrResetQuery, 0, nil))
		if got := readPDUs(t, c, 4); !slices.Equal(got, []byte{rtrCacheResponse, rtrIPv4Prefix, rtrIPv6Prefix, rtrEndOfData}) {
			t.Fatalf("v%d reset query answered with PDU types %v", version, got)
		}
	}
	// Up to date: an empty delta.
	c.Write(pdu(1, rtrSerialQuery, s.session, be32(s.Serial())))
	if got := readPDUs(t, c, 2); !slices.Equal(got, []byte{rtrCacheResponse, rtrEndOfData}) {
		t.Fatalf("serial query answered with %v", got)
	}
	old := s.Serial()
	if err := s.SetVRPs(nil); err != nil {
		t.Fatal(err)
	}
	if got := readPDUs(t, c, 1); got[0] != rtrSerialNotify {
		t.Fatalf("no Serial Notify after SetVRPs: %v", got)
	}
	c.Write(pdu(1, rtrSerialQuery, s.session, be32(old)))
	if got := readPDUs(t, c, 1); got[0] != rtrCacheReset {
		t.Fatalf("old serial answered with %v, want Cache Reset", got)
	}
	c.Write(pdu(2, rtrResetQuery, 0, nil))
	if got := readPDUs(t, c, 1); got[0] != rtrErrorReport {
		t.Fatalf("version 2 answered with %v, want Error Report", got)
	}
}

// TestRouteServerAndPeer runs a route server and a peer that announces two
// prefixes, one of them RPKI-invalid per the RTR server's VRP.
func TestRouteServerAndPeer(t *testing.T) {
	ctx := ctxT(t, 2*time.Minute)
	rtr := StartRTR(t, []VRP{{Prefix: netip.MustParsePrefix("10.20.0.0/16"), MaxLen: 24, ASN: 65099}})
	rs := StartGoBGPD(t, Config{Name: "rs", ASN: 65000, ListenAddr: rsAddr})
	if _, err := rs.API.AddRpki(ctx, &api.AddRpkiRequest{Address: rtr.Addr().Addr().String(), Port: uint32(rtr.Addr().Port()), Lifetime: 60}); err != nil {
		t.Fatal(err)
	}
	if err := rs.AddNeighbor(ctx, Neighbor{Address: peerAddr, ASN: 65001, Passive: true, RouteServerClient: true}); err != nil {
		t.Fatal(err)
	}
	waitRPKI(t, ctx, rs, 1)
	p := StartPeer(t, PeerConfig{Addr: peerAddr, ASN: 65001, RouteServer: rs.Endpoint(), Routes: []Route{
		{Prefix: netip.MustParsePrefix("10.1.0.0/24"), ASPath: []uint32{64512}},
		{Prefix: netip.MustParsePrefix("10.20.1.0/24")},
	}})
	if err := rs.WaitEstablished(ctx, peerAddr); err != nil {
		t.Fatalf("%v\nrs log:\n%s\npeer log:\n%s", err, rs.Log(3000), p.Log(3000))
	}
	got := waitRoutes(t, ctx, func() ([]Route, error) { return rs.Received(ctx, peerAddr) }, 2)
	if got[0].Prefix.String() != "10.1.0.0/24" || !slices.Equal(got[0].ASPath, []uint32{65001, 64512}) || got[0].NextHop != peerAddr {
		t.Errorf("first route %v", got[0])
	}
	if got[1].Validation != "invalid" {
		t.Errorf("10.20.1.0/24 from AS 65001 validates %q, want invalid (VRP says AS 65099)", got[1].Validation)
	}
	if p.PID() == rs.PID() || p.PID() <= 0 {
		t.Errorf("pids %d %d", p.PID(), rs.PID())
	}
	// Withdraw reaches the route server.
	if err := p.Withdraw(ctx, netip.MustParsePrefix("10.1.0.0/24")); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, ctx, func() ([]Route, error) { return rs.Received(ctx, peerAddr) }, 1)
	// Stop is idempotent and leaves no process behind.
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("peer still running after Stop")
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
}

func waitRPKI(t *testing.T, ctx context.Context, s *Speaker, records uint32) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := s.API.ListRpki(ctx, &api.ListRpkiRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var n uint32
		for {
			r, err := st.Recv()
			if err != nil {
				break
			}
			n += r.Server.GetState().GetRecordIpv4() + r.Server.GetState().GetRecordIpv6()
		}
		if n >= records {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("RPKI records %d, want %d", n, records)
		case <-tick.C:
		}
	}
}

func waitRoutes(t *testing.T, ctx context.Context, list func() ([]Route, error), n int) []Route {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := list()
		if err == nil && len(got) == n {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("have %v (%v), want %d routes", got, err, n)
		case <-tick.C:
		}
	}
}

func TestFreePortSharedAcrossAddresses(t *testing.T) {
	port, err := FreePort(peerAddr, peer2Addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{peerAddr, peer2Addr} {
		l, err := net.Listen("tcp", netip.AddrPortFrom(a, uint16(port)).String())
		if err != nil {
			t.Fatalf("port %d not free on %s: %v", port, a, err)
		}
		l.Close()
	}
}
