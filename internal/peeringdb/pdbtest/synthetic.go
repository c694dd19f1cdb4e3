package pdbtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"time"
)

// Synthetic builds a PeeringDB of the given size with records shaped like
// the real ones (same fields, similar sizes, the same quirks: null prefix
// counts, IPv4-only ports, several AS-SETs, policy "No", non-operational
// ports). IX sizes and network presence follow a long tail, as in reality:
// a few IXs with about a thousand members, most with a few dozen. Same seed,
// same data.
//
// ASNs are 4200000000+n (private use), IX LANs are 10.x.y.0/20 and
// 2001:db8:<ix>::/64, so nothing can be mistaken for a real network.
// Real-world size is Synthetic(30000, 1200, 60000, seed).
func Synthetic(nets, ixs, netixlans int, seed uint64) *Dataset {
	if ixs > 4095 {
		panic("pdbtest: Synthetic supports at most 4095 IXs (one 10.x.y.0/20 each)")
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	epoch := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	stamp := func() (string, string) {
		created := epoch.Add(-time.Duration(r.Int64N(int64(14 * 365 * 24 * time.Hour))))
		updated := created.Add(time.Duration(r.Int64N(int64(epoch.Sub(created)) + 1)))
		return created.Format(time.RFC3339), updated.Format(time.RFC3339)
	}
	d := &Dataset{Objects: map[string][]json.RawMessage{}}
	add := func(obj string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		d.Objects[obj] = append(d.Objects[obj], b)
	}

	policies := []string{"Open", "Open", "Open", "Open", "Open", "Open", "Selective", "Selective", "Selective", "Restrictive", "No", ""}
	types := []string{"NSP", "Content", "Cable/DSL/ISP", "Enterprise", "Educational/Research", "Non-Profit"}
	traffic := []string{"", "0-20Mbps", "100-1000Mbps", "1-5Gbps", "10-20Gbps", "100-200Gbps", "1Tbps+"}

	// Organisations: one per network, then one per IX.
	for i := 1; i <= nets+ixs; i++ {
		c, u := stamp()
		add("org", synthOrg{ID: i, Name: fmt.Sprintf("Synthetic Org %d", i), Website: fmt.Sprintf("https://org%d.example", i),
			City: "Frankfurt", Country: "DE", SocialMedia: []socialMedia{}, Created: c, Updated: u, Status: "ok"})
	}
	for i := 1; i <= nets; i++ {
		asn := uint32(4200000000 + i)
		c, u := stamp()
		n := synthNet{
			ID: i, OrgID: i, Name: fmt.Sprintf("Synthetic Network %d", i), Website: fmt.Sprintf("https://net%d.example", i),
			SocialMedia: []socialMedia{{Service: "website", Identifier: fmt.Sprintf("https://net%d.example", i)}},
			ASN:         asn, InfoType: types[r.IntN(len(types))], InfoTraffic: traffic[r.IntN(len(traffic))],
			InfoRatio: "Balanced", InfoScope: "Regional", InfoUnicast: true, InfoIPv6: r.IntN(10) < 8,
			InfoNeverViaRouteServers: r.IntN(50) == 0, PolicyURL: fmt.Sprintf("https://net%d.example/peering", i),
			PolicyGeneral: policies[r.IntN(len(policies))], PolicyLocations: "Not Required", PolicyContracts: "Not Required",
			IXPUpdateExclude: []string{}, RIRStatus: "ok", RIRStatusUpdated: u, NetIXLANUpdated: &u,
			Notes: "Synthetic record for benchmarks. 24/7 NOC: noc@example.net", Created: c, Updated: u, Status: "ok",
		}
		n.InfoTypes = []string{n.InfoType}
		switch k := r.IntN(10); {
		case k == 0:
			n.IRRASSet = ""
		case k < 4:
			n.IRRASSet = fmt.Sprintf("AS-SYN%d", i)
		case k < 7:
			n.IRRASSet = fmt.Sprintf("RIPE::AS-SYN%d", i)
		case k < 9:
			n.IRRASSet = fmt.Sprintf("RADB::AS-SYN%d RADB::AS-SYN%d-V6", i, i)
		default:
			n.IRRASSet = fmt.Sprintf("AS%d:AS-CUSTOMERS", asn)
		}
		if r.IntN(30) != 0 { // ~3% leave it null: unknown
			p4 := int64(r.ExpFloat64() * 500)
			p6 := p4 / 4
			n.InfoPrefixes4, n.InfoPrefixes6 = &p4, &p6
		}
		add("net", n)
	}

	// IXs: one LAN, one IPv4 and one IPv6 prefix each.
	lan4 := make([]netip.Prefix, ixs+1)
	lan6 := make([]netip.Prefix, ixs+1)
	for i := 1; i <= ixs; i++ {
		c, u := stamp()
		add("ix", synthIX{ID: i, OrgID: nets + i, Name: fmt.Sprintf("Synthetic IX %d", i), NameLong: fmt.Sprintf("Synthetic Internet Exchange %d", i),
			City: "Frankfurt", Country: "DE", RegionContinent: "Europe", Media: "Ethernet", ProtoUnicast: true, ProtoIPv6: true,
			Website: fmt.Sprintf("https://ix%d.example", i), SocialMedia: []socialMedia{}, TechEmail: "noc@ix.example",
			ServiceLevel: "24/7 Support", Terms: "Recurring Fees", Created: c, Updated: u, Status: "ok"})
		add("ixlan", synthIXLAN{ID: i, IXID: i, Name: "", MTU: 1500, IXFMemberListURLVisible: "Private", Created: c, Updated: u, Status: "ok"})
		lan4[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 4), byte(i&15) << 4, 0}), 20)
		lan6[i] = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)}), 64)
		add("ixpfx", synthIXPfx{ID: 2*i - 1, IXLANID: i, Protocol: "IPv4", Prefix: lan4[i].String(), InDFZ: true, Created: c, Updated: u, Status: "ok"})
		add("ixpfx", synthIXPfx{ID: 2 * i, IXLANID: i, Protocol: "IPv6", Prefix: lan6[i].String(), InDFZ: true, Created: c, Updated: u, Status: "ok"})
	}

	// netixlan: IX chosen with weight 1/(rank+10), network with weight
	// 1/(rank+50): long tails like the real data.
	pickIX := weighted(r, ixs, 10)
	pickNet := weighted(r, nets, 50)
	used := make([]int, ixs+1)
	for i := 1; i <= netixlans; i++ {
		ix := pickIX()
		for used[ix] >= 4000 { // the /20 is full
			ix = 1 + r.IntN(ixs)
		}
		used[ix]++
		k := used[ix]
		net := pickNet()
		b4 := lan4[ix].Addr().As4()
		h := uint32(b4[0])<<24 | uint32(b4[1])<<16 | uint32(b4[2])<<8 | uint32(b4[3])
		h += uint32(k) // k ≤ 4000 stays inside the /20
		v4 := netip.AddrFrom4([4]byte{byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)})
		b6 := lan6[ix].Addr().As16()
		b6[14], b6[15] = byte(k>>8), byte(k)
		c, u := stamp()
		x := synthNetIXLAN{ID: i, NetID: net, IXID: ix, Name: fmt.Sprintf("Synthetic IX %d", ix), IXLANID: ix,
			Speed: []int{1000, 10000, 10000, 100000, 400000}[r.IntN(5)], ASN: uint32(4200000000 + net),
			IPAddr4: ptr(v4.String()), IsRSPeer: r.IntN(10) < 6, Operational: r.IntN(200) != 0,
			Created: c, Updated: u, Status: "ok"}
		if r.IntN(20) != 0 { // ~5% IPv4-only
			x.IPAddr6 = ptr(netip.AddrFrom16(b6).String())
		}
		add("netixlan", x)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// weighted returns a sampler of 1..n with P(k) proportional to 1/(k-1+offset).
func weighted(r *rand.Rand, n int, offset float64) func() int {
	cum := make([]float64, n)
	sum := 0.0
	for k := 0; k < n; k++ {
		sum += 1 / (float64(k) + offset)
		cum[k] = sum
	}
	return func() int {
		x := r.Float64() * sum
		return 1 + sort.SearchFloat64s(cum, x)
	}
}

// The synth* types mirror the real records' fields so that sizes and
// decoding work are realistic.

type socialMedia struct {
	Service    string `json:"service"`
	Identifier string `json:"identifier"`
}

type synthOrg struct {
	ID          int           `json:"id"`
	Name        string        `json:"name"`
	AKA         string        `json:"aka"`
	NameLong    string        `json:"name_long"`
	Website     string        `json:"website"`
	SocialMedia []socialMedia `json:"social_media"`
	Notes       string        `json:"notes"`
	Logo        *string       `json:"logo"`
	Address1    string        `json:"address1"`
	Address2    string        `json:"address2"`
	City        string        `json:"city"`
	Country     string        `json:"country"`
	State       string        `json:"state"`
	Zipcode     string        `json:"zipcode"`
	Floor       string        `json:"floor"`
	Suite       string        `json:"suite"`
	Latitude    *float64      `json:"latitude"`
	Longitude   *float64      `json:"longitude"`
	Created     string        `json:"created"`
	Updated     string        `json:"updated"`
	Status      string        `json:"status"`
}

type synthNet struct {
	ID                       int           `json:"id"`
	OrgID                    int           `json:"org_id"`
	Name                     string        `json:"name"`
	AKA                      string        `json:"aka"`
	NameLong                 string        `json:"name_long"`
	Website                  string        `json:"website"`
	SocialMedia              []socialMedia `json:"social_media"`
	ASN                      uint32        `json:"asn"`
	LookingGlass             string        `json:"looking_glass"`
	RouteServer              string        `json:"route_server"`
	IRRASSet                 string        `json:"irr_as_set"`
	InfoType                 string        `json:"info_type"`
	InfoTypes                []string      `json:"info_types"`
	InfoPrefixes4            *int64        `json:"info_prefixes4"`
	InfoPrefixes6            *int64        `json:"info_prefixes6"`
	InfoTraffic              string        `json:"info_traffic"`
	InfoRatio                string        `json:"info_ratio"`
	InfoScope                string        `json:"info_scope"`
	InfoUnicast              bool          `json:"info_unicast"`
	InfoMulticast            bool          `json:"info_multicast"`
	InfoIPv6                 bool          `json:"info_ipv6"`
	InfoNeverViaRouteServers bool          `json:"info_never_via_route_servers"`
	IXCount                  int           `json:"ix_count"`
	FacCount                 int           `json:"fac_count"`
	Notes                    string        `json:"notes"`
	NetIXLANUpdated          *string       `json:"netixlan_updated"`
	NetFacUpdated            *string       `json:"netfac_updated"`
	POCUpdated               *string       `json:"poc_updated"`
	PolicyURL                string        `json:"policy_url"`
	PolicyGeneral            string        `json:"policy_general"`
	PolicyLocations          string        `json:"policy_locations"`
	PolicyRatio              bool          `json:"policy_ratio"`
	PolicyContracts          string        `json:"policy_contracts"`
	AllowIXPUpdate           bool          `json:"allow_ixp_update"`
	IXPUpdateExclude         []string      `json:"ixp_update_exclude"`
	StatusDashboard          *string       `json:"status_dashboard"`
	RIRStatus                string        `json:"rir_status"`
	RIRStatusUpdated         string        `json:"rir_status_updated"`
	Logo                     *string       `json:"logo"`
	Created                  string        `json:"created"`
	Updated                  string        `json:"updated"`
	Status                   string        `json:"status"`
}

type synthIX struct {
	ID              int           `json:"id"`
	OrgID           int           `json:"org_id"`
	Name            string        `json:"name"`
	AKA             string        `json:"aka"`
	NameLong        string        `json:"name_long"`
	City            string        `json:"city"`
	Country         string        `json:"country"`
	RegionContinent string        `json:"region_continent"`
	Media           string        `json:"media"`
	Notes           string        `json:"notes"`
	ProtoUnicast    bool          `json:"proto_unicast"`
	ProtoMulticast  bool          `json:"proto_multicast"`
	ProtoIPv6       bool          `json:"proto_ipv6"`
	Website         string        `json:"website"`
	SocialMedia     []socialMedia `json:"social_media"`
	URLStats        string        `json:"url_stats"`
	TechEmail       string        `json:"tech_email"`
	TechPhone       string        `json:"tech_phone"`
	PolicyEmail     string        `json:"policy_email"`
	PolicyPhone     string        `json:"policy_phone"`
	NetCount        int           `json:"net_count"`
	FacCount        int           `json:"fac_count"`
	ServiceLevel    string        `json:"service_level"`
	Terms           string        `json:"terms"`
	Created         string        `json:"created"`
	Updated         string        `json:"updated"`
	Status          string        `json:"status"`
}

type synthIXLAN struct {
	ID                      int     `json:"id"`
	IXID                    int     `json:"ix_id"`
	Name                    string  `json:"name"`
	Descr                   string  `json:"descr"`
	MTU                     int     `json:"mtu"`
	Dot1QSupport            bool    `json:"dot1q_support"`
	RSASN                   uint32  `json:"rs_asn"`
	ARPSponge               *string `json:"arp_sponge"`
	IXFMemberListURLVisible string  `json:"ixf_ixp_member_list_url_visible"`
	IXFImportEnabled        bool    `json:"ixf_ixp_import_enabled"`
	Created                 string  `json:"created"`
	Updated                 string  `json:"updated"`
	Status                  string  `json:"status"`
}

type synthIXPfx struct {
	ID       int    `json:"id"`
	IXLANID  int    `json:"ixlan_id"`
	Protocol string `json:"protocol"`
	Prefix   string `json:"prefix"`
	InDFZ    bool   `json:"in_dfz"`
	Created  string `json:"created"`
	Updated  string `json:"updated"`
	Status   string `json:"status"`
}

type synthNetIXLAN struct {
	ID          int     `json:"id"`
	NetID       int     `json:"net_id"`
	IXID        int     `json:"ix_id"`
	Name        string  `json:"name"`
	IXLANID     int     `json:"ixlan_id"`
	Notes       string  `json:"notes"`
	Speed       int     `json:"speed"`
	ASN         uint32  `json:"asn"`
	IPAddr4     *string `json:"ipaddr4"`
	IPAddr6     *string `json:"ipaddr6"`
	IsRSPeer    bool    `json:"is_rs_peer"`
	BFDSupport  bool    `json:"bfd_support"`
	Operational bool    `json:"operational"`
	NetSideID   *int    `json:"net_side_id"`
	IXSideID    *int    `json:"ix_side_id"`
	Created     string  `json:"created"`
	Updated     string  `json:"updated"`
	Status      string  `json:"status"`
}
