package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RouterDriver selects how the operator talks to a router.
// +kubebuilder:validation:Enum=frr;junos;iosxr;eos;gobgp
type RouterDriver string

// Supported drivers.
const (
	DriverFRR   RouterDriver = "frr"
	DriverJunos RouterDriver = "junos"
	DriverIOSXR RouterDriver = "iosxr"
	DriverEOS   RouterDriver = "eos"
	DriverGoBGP RouterDriver = "gobgp"
)

// RouterSpec describes one BGP speaker the operator configures: a router
// reached over SSH or a GoBGP route server reached over gRPC.
// +kubebuilder:validation:XValidation:rule="self.driver == 'gobgp' || has(self.credentialsSecretRef)",message="credentialsSecretRef is required for SSH drivers (frr, junos, iosxr, eos)"
// +kubebuilder:validation:XValidation:rule="!has(self.drain) || !has(self.routeServer) || !self.routeServer",message="a route server is not drained (it relays, it neither announces nor prefers); shut its clients' requests down instead"
type RouterSpec struct {
	// Driver is the router's platform.
	// +required
	Driver RouterDriver `json:"driver"`

	// Address is the management address: an IP address or a DNS name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="isIP(self) || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="address must be an IP address or a lower-case DNS name"
	// +required
	Address string `json:"address"`

	// Port is the management port. Defaults to 22 for SSH drivers and 50051
	// for gobgp.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`

	// LocalASN is the router's own AS.
	// +required
	LocalASN ASN `json:"localASN"`

	// RouterID is the BGP router ID, an IPv4 address.
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 4",message="routerID must be an IPv4 address"
	// +kubebuilder:validation:MaxLength=15
	// +required
	RouterID string `json:"routerID"`

	// CredentialsSecretRef names the Secret with the SSH login: keys
	// `username`, and `password` or `ssh-privatekey`, and `known_hosts`.
	// +optional
	CredentialsSecretRef *SecretReference `json:"credentialsSecretRef,omitempty"`

	// RouteServer marks the router as an IX route server: its neighbors are
	// route-server clients.
	// +optional
	RouteServer bool `json:"routeServer,omitempty"`

	// Announce is what the router announces to its peers (an IXPort may
	// replace it). Not used on a route server, which relays what its
	// clients send.
	// +optional
	Announce *Announce `json:"announce,omitempty"`

	// RPKI makes the router validate routes against RTR caches (RFC 8210)
	// and reject RPKI-invalid routes from every peer and route server (RFC
	// 6811). A route no cache answers for is "not found" and kept, so a
	// cache outage never drops a route. The operator adds the caches to
	// the router and never removes one (a router's caches may serve more
	// than our sessions): after removing a cache here, remove it there.
	// FRR needs bgpd's rpki module ("-M rpki", Debian frr-rpki-rtrlib).
	// +optional
	RPKI *RPKI `json:"rpki,omitempty"`

	// Import marks what the router accepts from its peers (local
	// preference, informational communities, graceful shutdown); an IXPort
	// may replace it. Not used on a route server.
	// +optional
	Import *ImportPolicy `json:"import,omitempty"`

	// Drain starts a graceful shutdown (RFC 8326) of every session on the
	// router (its IXPorts' requests), as spec.drain of each request would:
	// for a router's maintenance (kubectl peering drain router/NAME). The
	// admission webhook stamps the start in peering.dev/drain-since. Not
	// used on a route server, which relays and has nothing to drain.
	// +optional
	Drain *Drain `json:"drain,omitempty"`
}

// RPKI lists the RTR caches a router validates routes against.
type RPKI struct {
	// Servers in order of preference.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +listType=atomic
	// +required
	Servers []RTRServer `json:"servers"`
}

// RTRServer is one RPKI-to-Router cache (Routinator, rpki-client with
// StayRTR, ...).
type RTRServer struct {
	// Address is an IP address or a lower-case DNS name, as the router
	// reaches it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="isIP(self) || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="address must be an IP address or a lower-case DNS name"
	// +required
	Address string `json:"address"`
	// Port of the RTR service, e.g. 323 (IANA), 3323 (Routinator), 8282
	// (StayRTR).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +required
	Port int32 `json:"port"`
}

// DefaultPort returns the management port to dial.
func (s RouterSpec) DefaultPort() int32 {
	switch {
	case s.Port != 0:
		return s.Port
	case s.Driver == DriverGoBGP:
		return 50051
	default:
		return 22
	}
}

// Router condition types.
const (
	// RouterReachable is True when the management port answered.
	RouterReachable = "Reachable"
)

// ApplyResult records the last push of configuration to a router.
type ApplyResult struct {
	// Time of the apply.
	Time metav1.Time `json:"time"`
	// Result is Success or Failure.
	// +kubebuilder:validation:Enum=Success;Failure
	Result string `json:"result"`
	// Digest is the SHA-256 of the configuration that was pushed.
	// +optional
	Digest string `json:"digest,omitempty"`
	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`
}

// RouterStatus is the observed state of a Router.
type RouterStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Reachable, Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastApply is the result of the last configuration push.
	// +optional
	LastApply *ApplyResult `json:"lastApply,omitempty"`
	// Neighbors is the number of neighbors the operator manages on the router.
	// +optional
	Neighbors int32 `json:"neighbors"`
	// Held is the number of neighbors left exactly as they run because
	// their configuration could not be built.
	// +optional
	Held int32 `json:"held,omitempty"`
	// NotPushed lists the requests on this router whose pinned
	// configuration is not pushed as it is, and why (at most 50).
	// +listType=atomic
	// +optional
	NotPushed []RequestNotPushed `json:"notPushed,omitempty"`
}

// RequestNotPushed is one request a Router holds or refuses.
type RequestNotPushed struct {
	// Request is namespace/name.
	Request string `json:"request"`
	// Result is Held or Rejected.
	Result string `json:"result"`
	// Reason and Message say why.
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

// Router is one BGP speaker (a router or a route server) the operator configures.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=peering
// +kubebuilder:printcolumn:name="Driver",type=string,JSONPath=`.spec.driver`
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.spec.address`
// +kubebuilder:printcolumn:name="ASN",type=integer,JSONPath=`.spec.localASN`
// +kubebuilder:printcolumn:name="RS",type=boolean,JSONPath=`.spec.routeServer`
// +kubebuilder:printcolumn:name="Neighbors",type=integer,JSONPath=`.status.neighbors`
// +kubebuilder:printcolumn:name="Held",type=integer,JSONPath=`.status.held`
// +kubebuilder:printcolumn:name="Draining-Since",type=string,JSONPath=`.metadata.annotations.peering\.dev/drain-since`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Router struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   RouterSpec   `json:"spec"`
	Status RouterStatus `json:"status,omitempty"`
}

// RouterList is a list of Routers.
// +kubebuilder:object:root=true
type RouterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Router `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Router{}, &RouterList{})
}
