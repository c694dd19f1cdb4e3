package peeringdb

import (
	"net/netip"
	"time"
)

// Object names as they appear in the API path (/api/<name>).
const (
	ObjNetwork  = "net"
	ObjIX       = "ix"
	ObjIXLAN    = "ixlan"
	ObjIXPrefix = "ixpfx"
	ObjNetIXLAN = "netixlan"
	ObjOrg      = "org"
	ObjFacility = "fac"
	ObjNetFac   = "netfac"
	ObjIXFac    = "ixfac"
	ObjPOC      = "poc"
)

// Status values of PeeringDB objects. A list call without since only
// returns live objects; with since it also returns deleted ones, which is
// how the cache learns about removals.
const (
	StatusOK      = "ok"
	StatusPending = "pending"
	StatusDeleted = "deleted"
)

// Network is a PeeringDB "net" object (one per ASN).
//
// Nullable numbers are pointers: InfoPrefixes4 == nil means the network did
// not say, which is not the same as 0.
type Network struct {
	ID                       int       `json:"id"`
	OrgID                    int       `json:"org_id"`
	Name                     string    `json:"name"`
	AKA                      string    `json:"aka"`
	NameLong                 string    `json:"name_long"`
	Website                  string    `json:"website"`
	ASN                      uint32    `json:"asn"`
	LookingGlass             string    `json:"looking_glass"`
	RouteServer              string    `json:"route_server"`
	IRRASSet                 string    `json:"irr_as_set"`
	InfoType                 string    `json:"info_type"`
	InfoTypes                []string  `json:"info_types,omitempty"`
	InfoPrefixes4            *int64    `json:"info_prefixes4"`
	InfoPrefixes6            *int64    `json:"info_prefixes6"`
	InfoTraffic              string    `json:"info_traffic"`
	InfoRatio                string    `json:"info_ratio"`
	InfoScope                string    `json:"info_scope"`
	InfoUnicast              bool      `json:"info_unicast"`
	InfoMulticast            bool      `json:"info_multicast"`
	InfoIPv6                 bool      `json:"info_ipv6"`
	InfoNeverViaRouteServers bool      `json:"info_never_via_route_servers"`
	IXCount                  int       `json:"ix_count"`
	FacCount                 int       `json:"fac_count"`
	PolicyURL                string    `json:"policy_url"`
	PolicyGeneral            string    `json:"policy_general"`
	PolicyLocations          string    `json:"policy_locations"`
	PolicyRatio              bool      `json:"policy_ratio"`
	PolicyContracts          string    `json:"policy_contracts"`
	AllowIXPUpdate           bool      `json:"allow_ixp_update"`
	Created                  time.Time `json:"created"`
	Updated                  time.Time `json:"updated"`
	Status                   string    `json:"status"`
}

// Values of Network.PolicyGeneral seen in PeeringDB ("" also occurs).
const (
	PolicyOpen        = "Open"
	PolicySelective   = "Selective"
	PolicyRestrictive = "Restrictive"
	PolicyNo          = "No"
)

// ASSets splits IRRASSet into its AS-SETs (see ParseASSets).
func (n Network) ASSets() []ASSet { return ParseASSets(n.IRRASSet) }

// IX is a PeeringDB "ix" object (an exchange).
type IX struct {
	ID              int       `json:"id"`
	OrgID           int       `json:"org_id"`
	Name            string    `json:"name"`
	AKA             string    `json:"aka"`
	NameLong        string    `json:"name_long"`
	City            string    `json:"city"`
	Country         string    `json:"country"`
	RegionContinent string    `json:"region_continent"`
	Media           string    `json:"media"`
	ProtoUnicast    bool      `json:"proto_unicast"`
	ProtoMulticast  bool      `json:"proto_multicast"`
	ProtoIPv6       bool      `json:"proto_ipv6"`
	Website         string    `json:"website"`
	TechEmail       string    `json:"tech_email"`
	PolicyEmail     string    `json:"policy_email"`
	NetCount        int       `json:"net_count"`
	FacCount        int       `json:"fac_count"`
	ServiceLevel    string    `json:"service_level"`
	Terms           string    `json:"terms"`
	Created         time.Time `json:"created"`
	Updated         time.Time `json:"updated"`
	Status          string    `json:"status"`
}

// IXLAN is a PeeringDB "ixlan" object: the peering LAN of an IX.
type IXLAN struct {
	ID           int       `json:"id"`
	IXID         int       `json:"ix_id"`
	Name         string    `json:"name"`
	Descr        string    `json:"descr"`
	MTU          int       `json:"mtu"`
	Dot1QSupport bool      `json:"dot1q_support"`
	RSASN        uint32    `json:"rs_asn"`
	ARPSponge    string    `json:"arp_sponge"` // null in most records
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	Status       string    `json:"status"`
}

// IXPrefix is a PeeringDB "ixpfx" object: one subnet of an IX LAN.
type IXPrefix struct {
	ID       int          `json:"id"`
	IXLANID  int          `json:"ixlan_id"`
	Protocol string       `json:"protocol"` // "IPv4" or "IPv6"
	Prefix   netip.Prefix `json:"prefix"`
	InDFZ    bool         `json:"in_dfz"`
	Created  time.Time    `json:"created"`
	Updated  time.Time    `json:"updated"`
	Status   string       `json:"status"`
}

// NetIXLAN is a PeeringDB "netixlan" object: one port of a network on an
// IX, with its addresses. IPAddr4/IPAddr6 are the zero netip.Addr when
// PeeringDB has null (e.g. an IPv4-only port).
type NetIXLAN struct {
	ID          int        `json:"id"`
	NetID       int        `json:"net_id"`
	IXID        int        `json:"ix_id"`
	Name        string     `json:"name"`
	IXLANID     int        `json:"ixlan_id"`
	Notes       string     `json:"notes"`
	Speed       int        `json:"speed"` // Mbit/s
	ASN         uint32     `json:"asn"`
	IPAddr4     netip.Addr `json:"ipaddr4"`
	IPAddr6     netip.Addr `json:"ipaddr6"`
	IsRSPeer    bool       `json:"is_rs_peer"`
	BFDSupport  bool       `json:"bfd_support"`
	Operational bool       `json:"operational"`
	NetSideID   *int       `json:"net_side_id"`
	IXSideID    *int       `json:"ix_side_id"`
	Created     time.Time  `json:"created"`
	Updated     time.Time  `json:"updated"`
	Status      string     `json:"status"`
}

// Addrs returns the port's addresses that are set, IPv4 first.
func (n NetIXLAN) Addrs() []netip.Addr {
	var out []netip.Addr
	if n.IPAddr4.IsValid() {
		out = append(out, n.IPAddr4.Unmap())
	}
	if n.IPAddr6.IsValid() {
		out = append(out, n.IPAddr6)
	}
	return out
}

// Org is a PeeringDB "org" object.
type Org struct {
	ID        int       `json:"id"`
	Name      string    `json:"name"`
	AKA       string    `json:"aka"`
	NameLong  string    `json:"name_long"`
	Website   string    `json:"website"`
	Address1  string    `json:"address1"`
	Address2  string    `json:"address2"`
	City      string    `json:"city"`
	Country   string    `json:"country"`
	State     string    `json:"state"`
	Zipcode   string    `json:"zipcode"`
	Latitude  *float64  `json:"latitude"`
	Longitude *float64  `json:"longitude"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Status    string    `json:"status"`
}

// Facility is a PeeringDB "fac" object (a data centre).
type Facility struct {
	ID              int       `json:"id"`
	OrgID           int       `json:"org_id"`
	OrgName         string    `json:"org_name"`
	CampusID        *int      `json:"campus_id"`
	Name            string    `json:"name"`
	AKA             string    `json:"aka"`
	NameLong        string    `json:"name_long"`
	Website         string    `json:"website"`
	CLLI            string    `json:"clli"`
	NetCount        int       `json:"net_count"`
	IXCount         int       `json:"ix_count"`
	Address1        string    `json:"address1"`
	Address2        string    `json:"address2"`
	City            string    `json:"city"`
	Country         string    `json:"country"`
	State           string    `json:"state"`
	Zipcode         string    `json:"zipcode"`
	RegionContinent string    `json:"region_continent"`
	Latitude        *float64  `json:"latitude"`
	Longitude       *float64  `json:"longitude"`
	Created         time.Time `json:"created"`
	Updated         time.Time `json:"updated"`
	Status          string    `json:"status"`
}

// NetFac is a PeeringDB "netfac" object: a network present in a facility.
type NetFac struct {
	ID       int       `json:"id"`
	NetID    int       `json:"net_id"`
	FacID    int       `json:"fac_id"`
	Name     string    `json:"name"`
	City     string    `json:"city"`
	Country  string    `json:"country"`
	LocalASN uint32    `json:"local_asn"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Status   string    `json:"status"`
}

// IXFac is a PeeringDB "ixfac" object: an IX present in a facility.
type IXFac struct {
	ID      int       `json:"id"`
	IXID    int       `json:"ix_id"`
	FacID   int       `json:"fac_id"`
	Name    string    `json:"name"`
	City    string    `json:"city"`
	Country string    `json:"country"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Status  string    `json:"status"`
}

// POC is a PeeringDB "poc" object (a network's point of contact). Anonymous
// clients only see the public ones.
type POC struct {
	ID      int       `json:"id"`
	NetID   int       `json:"net_id"`
	Role    string    `json:"role"`
	Visible string    `json:"visible"`
	Name    string    `json:"name"`
	Phone   string    `json:"phone"`
	Email   string    `json:"email"`
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Status  string    `json:"status"`
}

// Object is the set of PeeringDB object types the generic calls accept.
type Object interface {
	Network | IX | IXLAN | IXPrefix | NetIXLAN | Org | Facility | NetFac | IXFac | POC
}

// ObjectName is the API path name of T ("net" for Network, ...).
func ObjectName[T Object]() string {
	var z T
	switch any(z).(type) {
	case Network:
		return ObjNetwork
	case IX:
		return ObjIX
	case IXLAN:
		return ObjIXLAN
	case IXPrefix:
		return ObjIXPrefix
	case NetIXLAN:
		return ObjNetIXLAN
	case Org:
		return ObjOrg
	case Facility:
		return ObjFacility
	case NetFac:
		return ObjNetFac
	case IXFac:
		return ObjIXFac
	case POC:
		return ObjPOC
	}
	panic("unreachable: type outside Object")
}
