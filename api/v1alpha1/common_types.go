package v1alpha1

// ASN is a 32-bit autonomous system number. AS 0 is reserved and 23456
// (AS_TRANS, RFC 6793) only ever appears on the wire for old speakers, so
// neither can be a peer or a local AS.
// +kubebuilder:validation:Minimum=1
// +kubebuilder:validation:Maximum=4294967295
// +kubebuilder:validation:XValidation:rule="self != 23456",message="AS 23456 is AS_TRANS (RFC 6793) and cannot be used as an ASN"
type ASN int64

// LocalObjectReference names an object of a known kind.
// +structType=atomic
type LocalObjectReference struct {
	// Name of the referenced object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// SecretReference names a Secret in a given namespace. Cluster-scoped kinds
// use it because they have no namespace of their own.
// +structType=atomic
type SecretReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
	// Namespace of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Namespace string `json:"namespace"`
}

// SecretKeySelector picks one key of a Secret in the object's own namespace.
// +structType=atomic
type SecretKeySelector struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
	// Key in the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:default=password
	// +optional
	Key string `json:"key,omitempty"`
}

// Condition types shared by every kind. Ready is the summary; Reconciling and
// Stalled follow kstatus (sigs.k8s.io/cli-utils/pkg/kstatus), so Argo CD, Flux
// and `kubectl wait --for=condition=Ready` read them without custom health code.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// Announce is what we announce to our peers: our own prefixes. Every
// session gets an explicit export policy that permits exactly these (and
// never a route learned from a peer, a route server or a transit); with
// nothing listed a session announces nothing, and its request says so.
type Announce struct {
	// Prefixes we announce, exact (e.g. 192.0.2.0/24, 2001:db8::/32).
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) && cidr(self) == cidr(self).masked()",message="each prefix must be a network address with its length, e.g. 192.0.2.0/24"
	// +listType=set
	// +optional
	Prefixes []string `json:"prefixes,omitempty"`
	// ASSet is our AS-SET (or AS<n>) whose IRR route objects we announce
	// too, e.g. our customers' routes: expanded per family like an import
	// filter (the IXPort's IRR sources; bogons and too-specific prefixes
	// out; aggregated), pinned per request and guarded like one: an empty
	// answer or a shrink beyond --filter-max-shrink is held for a human
	// (DriftHeld), so an IRR edit never withdraws our routes from a peer
	// by itself. Only on a Router or an IXPort: a request narrows to
	// prefixes.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.matches('[[:cntrl:]]')",message="asSet must not contain control characters"
	// +optional
	ASSet string `json:"asSet,omitempty"`
}

// ImportPolicy sets what we mark on the routes we accept from peers, so the
// rest of our network can prefer and recognise them. Every field has a
// default that is rendered explicitly on every driver: a router's own
// defaults never decide.
type ImportPolicy struct {
	// LocalPreference of routes accepted from bilateral peers. Default 100,
	// BGP's own, so adopting the operator changes nothing; networks that
	// prefer peering over transit often use e.g. 200. 0 is left to
	// graceful shutdown (RFC 8326).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	// +optional
	LocalPreference *int64 `json:"localPreference,omitempty"`
	// RouteServerLocalPreference of routes accepted from an IX's route
	// servers (requests with spec.routeServer). Default: localPreference.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	// +optional
	RouteServerLocalPreference *int64 `json:"routeServerLocalPreference,omitempty"`
	// Communities added to every accepted route, informational: standard
	// ("64500:3100") or large ("64500:100:31"). Besides these every route
	// carries our learned-from large community LocalASN:1:IXID (a peer) or
	// LocalASN:2:IXID (a route server). Well-known communities (65535:x)
	// and 0:x are refused: they are not informational.
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:items:Pattern=`^[0-9]{1,10}:[0-9]{1,10}(:[0-9]{1,10})?$`
	// +listType=set
	// +optional
	Communities []string `json:"communities,omitempty"`
	// HonourGracefulShutdown: a route a peer sends with GRACEFUL_SHUTDOWN
	// (65535:0) gets local preference 0, so our traffic leaves a session
	// the peer is about to take down (RFC 8326). Default true.
	// +optional
	HonourGracefulShutdown *bool `json:"honourGracefulShutdown,omitempty"`
}
