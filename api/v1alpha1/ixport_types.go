package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IXReference identifies an Internet Exchange in PeeringDB.
// +structType=atomic
type IXReference struct {
	// PeeringDBID is the IX's id in PeeringDB (the `ix` object, e.g. 31 for
	// DE-CIX Frankfurt).
	// +kubebuilder:validation:Minimum=1
	// +required
	PeeringDBID int64 `json:"peeringdbID"`
}

// ApprovalPolicy decides how PeeringRequests on an IXPort get approved.
// +kubebuilder:validation:Enum=Manual;AutoOpen
type ApprovalPolicy string

// Approval policies.
const (
	// ApprovalManual: a human with the approve permission approves each request.
	ApprovalManual ApprovalPolicy = "Manual"
	// ApprovalAutoOpen: requests that validate cleanly and whose peer has an
	// Open policy in PeeringDB are approved by the operator.
	ApprovalAutoOpen ApprovalPolicy = "AutoOpen"
)

// MaxPrefixDefaults computes a peer's limit per family:
// ⌈(PeeringDB count + absolute headroom) × (1 + relativePercent/100)⌉.
// The defaults are arouteserver's (+100, then +15%). A zero or absent field
// means its default.
type MaxPrefixDefaults struct {
	// AbsoluteHeadroom is added to the PeeringDB prefix count.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=100
	// +optional
	AbsoluteHeadroom int64 `json:"absoluteHeadroom,omitempty"`
	// RelativeHeadroomPercent is the margin on top, in percent.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=15
	// +optional
	RelativeHeadroomPercent int64 `json:"relativeHeadroomPercent,omitempty"`
	// IPv4Unknown is the limit when PeeringDB has no IPv4 prefix count.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=1000
	// +optional
	IPv4Unknown int64 `json:"ipv4Unknown,omitempty"`
	// IPv6Unknown is the limit when PeeringDB has no IPv6 prefix count.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=200
	// +optional
	IPv6Unknown int64 `json:"ipv6Unknown,omitempty"`
	// RestartAfter, when set, brings a session back this long after its
	// limit tripped (e.g. 30m; whole minutes, at least 1). Unset keeps it
	// down until a NOC clears it (kubectl peering clear).
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('24h')",message="restartAfter must be between 1m and 24h"
	// +optional
	RestartAfter *metav1.Duration `json:"restartAfter,omitempty"`
}

// PeerDefaults apply to every PeeringRequest on the port unless the request
// overrides them.
type PeerDefaults struct {
	// MaxPrefixes sets how prefix limits are computed.
	// +optional
	MaxPrefixes MaxPrefixDefaults `json:"maxPrefixes,omitempty"`
	// IRRSources are the IRR databases queried for prefix filters, in order.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^[A-Z0-9][A-Z0-9-]{0,31}$`
	// +listType=atomic
	// +optional
	IRRSources []string `json:"irrSources,omitempty"`
	// Approval is how requests on this port are approved.
	// +kubebuilder:default=Manual
	// +optional
	Approval ApprovalPolicy `json:"approval,omitempty"`
}

// IXPortSpec describes our port on one Internet Exchange.
// +kubebuilder:validation:XValidation:rule="has(self.ipv4Address) || has(self.ipv6Address)",message="an IXPort needs ipv4Address, ipv6Address or both"
type IXPortSpec struct {
	// IX is the exchange this port is on.
	// +required
	IX IXReference `json:"ix"`

	// RouterRef names the Router (cluster-scoped) the port is on.
	// +required
	RouterRef LocalObjectReference `json:"routerRef"`

	// IPv4Address is our address on the IX LAN with its prefix length,
	// e.g. 80.81.192.10/21.
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4",message="ipv4Address must be an IPv4 address with prefix length, e.g. 80.81.192.10/21"
	// +optional
	IPv4Address string `json:"ipv4Address,omitempty"`

	// IPv6Address is our address on the IX LAN with its prefix length,
	// e.g. 2001:7f8::1:0:1/64.
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 6",message="ipv6Address must be an IPv6 address with prefix length, e.g. 2001:7f8::1/64"
	// +optional
	IPv6Address string `json:"ipv6Address,omitempty"`

	// PeerDefaults apply to every PeeringRequest on this port.
	// +optional
	PeerDefaults PeerDefaults `json:"peerDefaults,omitempty"`

	// Announce replaces the Router's spec.announce for the sessions on
	// this port.
	// +optional
	Announce *Announce `json:"announce,omitempty"`

	// Import replaces the Router's spec.import for the sessions on this
	// port, whole (fields it leaves out take their defaults, not the
	// Router's).
	// +optional
	Import *ImportPolicy `json:"import,omitempty"`

	// Drain starts a graceful shutdown (RFC 8326) of every session on the
	// port, as spec.drain of each request would: for the port's or the
	// IX's maintenance (kubectl peering drain ixport/NAME). The admission
	// webhook stamps the start in peering.dev/drain-since.
	// +optional
	Drain *Drain `json:"drain,omitempty"`
}

// IXPort condition types.
const (
	// IXPortRouterFound is True when spec.routerRef names an existing Router.
	IXPortRouterFound = "RouterFound"
	// IXPortPeeringDBValidated is True when the IX exists in PeeringDB.
	IXPortPeeringDBValidated = "PeeringDBValidated"
	// IXPortNetIXLANMatches is True when our own netixlan entry in PeeringDB
	// lists the port's addresses.
	IXPortNetIXLANMatches = "NetIXLANMatches"
)

// IXPortStatus is the observed state of an IXPort.
type IXPortStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: RouterFound, PeeringDBValidated, NetIXLANMatches, Ready,
	// Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// IXName is the exchange's name in PeeringDB.
	// +optional
	IXName string `json:"ixName,omitempty"`
	// LANPrefixes are the IX peering LAN prefixes from PeeringDB.
	// +listType=atomic
	// +optional
	LANPrefixes []string `json:"lanPrefixes,omitempty"`
	// PeeringRequests is the number of PeeringRequests using this port.
	// +optional
	PeeringRequests int32 `json:"peeringRequests"`
	// PeersConfigured is the number of peers configured on the router.
	// +optional
	PeersConfigured int32 `json:"peersConfigured"`
	// PeersEstablished is the number of peers with every session Established.
	// +optional
	PeersEstablished int32 `json:"peersEstablished"`
}

// IXPort is our port on one Internet Exchange, on one Router.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ixp,categories=peering
// +kubebuilder:printcolumn:name="IX-ID",type=integer,JSONPath=`.spec.ix.peeringdbID`
// +kubebuilder:printcolumn:name="IX",type=string,JSONPath=`.status.ixName`
// +kubebuilder:printcolumn:name="Router",type=string,JSONPath=`.spec.routerRef.name`
// +kubebuilder:printcolumn:name="IPv4",type=string,JSONPath=`.spec.ipv4Address`
// +kubebuilder:printcolumn:name="IPv6",type=string,JSONPath=`.spec.ipv6Address`
// +kubebuilder:printcolumn:name="Requests",type=integer,JSONPath=`.status.peeringRequests`
// +kubebuilder:printcolumn:name="Draining-Since",type=string,JSONPath=`.metadata.annotations.peering\.dev/drain-since`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IXPort struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   IXPortSpec   `json:"spec"`
	Status IXPortStatus `json:"status,omitempty"`
}

// IXPortList is a list of IXPorts.
// +kubebuilder:object:root=true
type IXPortList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IXPort `json:"items"`
}

func init() {
	SchemeBuilder.Register(&IXPort{}, &IXPortList{})
}
