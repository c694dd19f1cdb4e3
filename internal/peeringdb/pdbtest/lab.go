package pdbtest

import (
	"fmt"
	"net/netip"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// The lab IX is a made-up exchange whose peering LAN is on loopback, so
// `make dev` and the end-to-end tests can bring real BGP sessions up
// between processes on this machine. Its ids are far above the sample's.
const (
	LabIXID    = 90001
	LabIXLANID = 90001
)

// LabLAN is the lab IX's peering LAN.
var LabLAN = netip.MustParsePrefix("127.0.0.0/24")

// LabPort is one network's port on the lab IX.
type LabPort struct {
	NetID int
	ASN   uint32
	Addr  netip.Addr
}

// LabPorts are ports for three networks of the sample on the lab IX:
// DENIC, Hurricane Electric and IONOS.
var LabPorts = []LabPort{
	{NetID: 270, ASN: 8763, Addr: netip.MustParseAddr("127.0.0.11")},
	{NetID: 291, ASN: 6939, Addr: netip.MustParseAddr("127.0.0.12")},
	{NetID: 262, ASN: 8560, Addr: netip.MustParseAddr("127.0.0.13")},
}

// LabRouteServer is a port of DE-CIX Frankfurt's route-server network
// (AS6695, typed "Route Server" in the sample) on the lab IX: the lab's IX
// route server.
var LabRouteServer = LabPort{NetID: 947, ASN: 6695, Addr: netip.MustParseAddr("127.0.0.20")}

// AddLabIX adds the lab IX, its LAN and the given ports.
func (s *Server) AddLabIX(ports ...LabPort) error {
	if _, err := s.Add(peeringdb.ObjIX, peeringdb.IX{ID: LabIXID, Name: "Lab IX (loopback)", City: "Localhost", Country: "ZZ",
		ProtoUnicast: true}); err != nil {
		return fmt.Errorf("lab IX: %w", err)
	}
	if _, err := s.Add(peeringdb.ObjIXLAN, peeringdb.IXLAN{ID: LabIXLANID, IXID: LabIXID, Name: "Lab LAN"}); err != nil {
		return fmt.Errorf("lab IX LAN: %w", err)
	}
	if _, err := s.Add(peeringdb.ObjIXPrefix, peeringdb.IXPrefix{IXLANID: LabIXLANID, Protocol: "IPv4", Prefix: LabLAN}); err != nil {
		return fmt.Errorf("lab IX prefix: %w", err)
	}
	for _, p := range ports {
		if _, err := s.Add(peeringdb.ObjNetIXLAN, netIXLANRecord(peeringdb.NetIXLAN{NetID: p.NetID, IXID: LabIXID, IXLANID: LabIXLANID,
			ASN: p.ASN, IPAddr4: p.Addr, Speed: 10000, Operational: true})); err != nil {
			return fmt.Errorf("lab port of AS%d: %w", p.ASN, err)
		}
	}
	return nil
}

// The FRR lab IX is the LAN of internal/frrtest's network namespaces
// (192.0.2.0/24, documentation space), with DENIC's port at 192.0.2.2.
const FRRLabIXID = 90003

// FRRLabPeer is DENIC's port on the FRR lab IX.
var FRRLabPeer = LabPort{NetID: 270, ASN: 8763, Addr: netip.MustParseAddr("192.0.2.2")}

// FRRLabRouteServer is the FRR lab IX's route server: AS6695's port (as
// LabRouteServer) on the netns LAN.
var FRRLabRouteServer = LabPort{NetID: 947, ASN: 6695, Addr: netip.MustParseAddr("192.0.2.20")}

// AddFRRLabIX adds the FRR lab IX, DENIC's port and the route server's.
func (s *Server) AddFRRLabIX() error {
	if _, err := s.Add(peeringdb.ObjIX, peeringdb.IX{ID: FRRLabIXID, Name: "FRR lab IX (netns)", City: "Localhost", Country: "ZZ"}); err != nil {
		return fmt.Errorf("FRR lab IX: %w", err)
	}
	if _, err := s.Add(peeringdb.ObjIXLAN, peeringdb.IXLAN{ID: FRRLabIXID, IXID: FRRLabIXID, Name: "FRR lab LAN"}); err != nil {
		return err
	}
	if _, err := s.Add(peeringdb.ObjIXPrefix, peeringdb.IXPrefix{IXLANID: FRRLabIXID, Protocol: "IPv4", Prefix: netip.MustParsePrefix("192.0.2.0/24")}); err != nil {
		return err
	}
	for _, p := range []LabPort{FRRLabPeer, FRRLabRouteServer} {
		if _, err := s.Add(peeringdb.ObjNetIXLAN, netIXLANRecord(peeringdb.NetIXLAN{NetID: p.NetID, IXID: FRRLabIXID, IXLANID: FRRLabIXID,
			ASN: p.ASN, IPAddr4: p.Addr, Speed: 10000, Operational: true})); err != nil {
			return fmt.Errorf("FRR lab port of AS%d: %w", p.ASN, err)
		}
	}
	return nil
}
