package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxPrefixes overrides the computed prefix limits of a request.
type MaxPrefixes struct {
	// IPv4 is the IPv4 prefix limit per session.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	// +optional
	IPv4 *int64 `json:"ipv4,omitempty"`
	// IPv6 is the IPv6 prefix limit per session.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	// +optional
	IPv6 *int64 `json:"ipv6,omitempty"`
}

// PeeringRequestSpec asks for BGP sessions with one network on one IXPort.
type PeeringRequestSpec struct {
	// PeerASN is the AS of the network to peer with. Immutable: a request
	// for another network is another request.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="peerASN is immutable: create a new PeeringRequest for another network"
	// +required
	PeerASN ASN `json:"peerASN"`

	// IXPortRef names the IXPort (cluster-scoped) to peer on. A request
	// covers exactly one IXPort; peer on two IXs with two requests.
	// Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="ixPortRef is immutable: create a new PeeringRequest for another IXPort"
	// +required
	IXPortRef LocalObjectReference `json:"ixPortRef"`

	// Addresses are the peer's router addresses on the IX LAN (no prefix
	// length). Empty means every address PeeringDB lists for the peer on
	// that IX.
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=39
	// +kubebuilder:validation:items:XValidation:rule="isIP(self)",message="each address must be an IPv4 or IPv6 address without prefix length, e.g. 80.81.192.100"
	// +listType=set
	// +optional
	Addresses []string `json:"addresses,omitempty"`

	// IRRASSet overrides the AS-SET(s) from PeeringDB: one or more names
	// separated by spaces, each optionally prefixed with its IRR source, e.g.
	// `AS-EXAMPLE` or `RIPE::AS-EXAMPLE RIPE::AS-EXAMPLE-V6`.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^([A-Za-z0-9-]+::)?[A-Za-z0-9][A-Za-z0-9:_.-]*( ([A-Za-z0-9-]+::)?[A-Za-z0-9][A-Za-z0-9:_.-]*)*$`
	// +optional
	IRRASSet string `json:"irrASSet,omitempty"`

	// RouteServer marks the peer as the IX's route server (kubectl peering
	// new --route-servers finds them in PeeringDB). A route server relays
	// its members' routes without putting its own AS first, so the session
	// has no first-AS check; its import filter is not built from the route
	// server's AS-SET but accepts any prefix outside bogon space of a sane
	// length (/8-/24, /16-/48), with bogon ASNs and, where the router
	// validates, RPKI-invalid routes refused. With irrASSet set (e.g. the
	// IX's AS-SET of its members) the filter is that set's expansion
	// instead. Like the rest of the spec it is fixed once approved:
	// PeeringDB can never turn a session into, or out of, a route-server
	// session.
	// +optional
	RouteServer bool `json:"routeServer,omitempty"`

	// MaxPrefixes overrides the limits computed from PeeringDB.
	// +optional
	MaxPrefixes *MaxPrefixes `json:"maxPrefixes,omitempty"`

	// PasswordSecretRef names the Secret (in this namespace) holding the
	// session's TCP MD5 password.
	// +optional
	PasswordSecretRef *SecretKeySelector `json:"passwordSecretRef,omitempty"`

	// Description is rendered into the router's neighbor description:
	// router-safe text only (RouterSafeTextPattern, the same rule).
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:XValidation:rule="self.matches('^[] %&(-:=?-[^_a-z~]*$')",message="description must be printable ASCII without quotes, backquotes, backslashes or any of ; | # ! { } $ < > (router CLIs treat them specially)"
	// +optional
	Description string `json:"description,omitempty"`

	// Shutdown keeps the sessions configured but administratively down.
	// +optional
	Shutdown bool `json:"shutdown,omitempty"`

	// Drain starts a graceful shutdown (RFC 8326) of the sessions: what we
	// announce to the peer carries the GRACEFUL_SHUTDOWN community
	// (65535:0) and what we accept from it gets local preference 0, so
	// traffic moves to other paths while the sessions stay up; after
	// shutdownAfter they are shut down. Removing it reverses both. Like
	// shutdown it is a human act that reaches the router whatever PeeringDB
	// or the IRR are doing (kubectl peering drain / undrain).
	// +optional
	Drain *Drain `json:"drain,omitempty"`

	// Announce narrows what these sessions announce to the listed
	// prefixes of the IXPort's (or Router's) announce list; a prefix not
	// in that list is not announced, and neither is the list's AS-SET.
	// +kubebuilder:validation:XValidation:rule="!has(self.asSet)",message="spec.announce narrows to prefixes; an AS-SET to announce is set on the IXPort or the Router"
	// +optional
	Announce *Announce `json:"announce,omitempty"`

	// LocalPreference overrides the IXPort's (or Router's) import local
	// preference for these sessions, e.g. to prefer one peer's routes. A
	// human decision like shutdown: it applies to the running sessions
	// without a new approval.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	// +optional
	LocalPreference *int64 `json:"localPreference,omitempty"`

	// Requester is who created the request, stamped by the operator's
	// admission webhook from the API server's authentication; a value that
	// differs from the creator is refused, and it never changes.
	// +optional
	Requester *UserInfo `json:"requester,omitempty"`
}

// UserInfo identifies a Kubernetes user.
type UserInfo struct {
	// Username as authenticated by the API server.
	Username string `json:"username"`
	// UID of the user, if any.
	// +optional
	UID string `json:"uid,omitempty"`
	// Groups of the user.
	// +listType=atomic
	// +optional
	Groups []string `json:"groups,omitempty"`
	// PeeringAPI is set when the request came in through the operator's
	// Peering API server: the remote network as its bearer token proved
	// it. Username is then the operator's own account, which vouches for
	// it; like the rest of requester it never changes.
	// +optional
	PeeringAPI *PeeringAPIRequester `json:"peeringAPI,omitempty"`
}

// PeeringAPIRequester is the remote caller of a Peering API request.
type PeeringAPIRequester struct {
	// ASN the caller acted for (authorised by its token).
	ASN ASN `json:"asn"`
	// Subject is the token's sub claim (e.g. a PeeringDB user id).
	// +kubebuilder:validation:MaxLength=256
	Subject string `json:"subject"`
	// Issuer is the token's iss claim.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Issuer string `json:"issuer,omitempty"`
	// RequestID is the Peering API request id the session was created
	// under (one POST /sessions).
	// +kubebuilder:validation:MaxLength=64
	// +optional
	RequestID string `json:"requestID,omitempty"`
}

// RemoteStatus is what a peer's Peering API server answered when we
// requested these sessions from it (kubectl peering request --remote).
type RemoteStatus struct {
	// URL of the peer's Peering API.
	// +kubebuilder:validation:MaxLength=512
	URL string `json:"url"`
	// RequestID the peer gave the request.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	RequestID string `json:"requestID,omitempty"`
	// Sessions as the peer last reported them.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	Sessions []RemoteSession `json:"sessions,omitempty"`
	// Time the peer last answered.
	Time metav1.Time `json:"time"`
}

// RemoteSession is one session as a peer's Peering API reports it.
type RemoteSession struct {
	// ID the peer gave the session.
	// +kubebuilder:validation:MaxLength=128
	ID string `json:"id"`
	// Address is the peer's address of the session.
	// +kubebuilder:validation:MaxLength=39
	Address string `json:"address"`
	// State as the peer names it (Pending, Approved, Rejected,
	// Established, Down, ...).
	// +kubebuilder:validation:MaxLength=64
	State string `json:"state"`
}

// PeeringRequest condition types. Approved and Denied are set by a human (or
// the IXPort's auto-approval policy), only ever True, and never both.
const (
	PeeringRequestApproved           = "Approved"
	PeeringRequestDenied             = "Denied"
	PeeringRequestPeeringDBValidated = "PeeringDBValidated"
	PeeringRequestFiltersReady       = "FiltersReady"
	PeeringRequestConfigured         = "Configured"
	PeeringRequestEstablished        = "Established"
	// PeeringRequestDriftHeld is True while a change from PeeringDB or the
	// IRR is held for a human (status.drift).
	PeeringRequestDriftHeld = "DriftHeld"
	// PeeringRequestAnnouncing is True when the sessions announce at
	// least one prefix; False (NothingToAnnounce) when the export policy
	// denies everything.
	PeeringRequestAnnouncing = "Announcing"
)

// Annotations a human sets on a PeeringRequest.
const (
	// AnnotationAcceptDrift accepts the held change whose token it names
	// (status.drift.token).
	AnnotationAcceptDrift = "peering.dev/accept-drift"
	// AnnotationAcceptFilter accepts held filters by digest
	// (comma-separated).
	AnnotationAcceptFilter = "peering.dev/accept-filter"
	// AnnotationClear asks the Router controller to clear the request's
	// sessions once: the value is the time it was asked (RFC 3339),
	// followed by " soft" for a soft clear (no session reset). A new value
	// is a new clear. `kubectl peering clear` sets it; it needs verb
	// clear on the request's IXPort.
	AnnotationClear = "peering.dev/clear"
)

// Approval states shown in status.approval.state.
const (
	ApprovalStatePending  = "Pending"
	ApprovalStateApproved = "Approved"
	ApprovalStateDenied   = "Denied"
)

// ApprovalStatus records the decision on a request.
type ApprovalStatus struct {
	// State is Pending, Approved or Denied.
	// +kubebuilder:validation:Enum=Pending;Approved;Denied
	State string `json:"state"`
	// User who decided.
	// +optional
	User string `json:"user,omitempty"`
	// Time of the decision.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
	// Reason given with the decision.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// PeerInfo is what PeeringDB says about the peer.
type PeerInfo struct {
	// Name of the network in PeeringDB.
	// +optional
	Name string `json:"name,omitempty"`
	// PeeringDBID is the network's `net` id.
	// +optional
	PeeringDBID int64 `json:"peeringdbID,omitempty"`
	// Policy is the general peering policy: Open, Selective, Restrictive or No.
	// +optional
	Policy string `json:"policy,omitempty"`
	// IRRASSet is the network's AS-SET(s) as PeeringDB lists them.
	// +optional
	IRRASSet string `json:"irrASSet,omitempty"`
	// InfoPrefixes4 is the IPv4 prefix count the network announces; absent
	// when PeeringDB does not know it.
	// +optional
	InfoPrefixes4 *int64 `json:"infoPrefixes4,omitempty"`
	// InfoPrefixes6 is the IPv6 prefix count; absent when unknown.
	// +optional
	InfoPrefixes6 *int64 `json:"infoPrefixes6,omitempty"`
}

// SessionStatus is the live state of one BGP session.
type SessionStatus struct {
	// Address is the peer's address.
	Address string `json:"address"`
	// Family is ipv4 or ipv6.
	// +kubebuilder:validation:Enum=ipv4;ipv6
	Family string `json:"family"`
	// State is the BGP FSM state (Idle, Connect, Active, OpenSent,
	// OpenConfirm, Established), or NotConfigured before the neighbor is pushed.
	// +optional
	State string `json:"state,omitempty"`
	// EstablishedTime is when the session last came up.
	// +optional
	EstablishedTime *metav1.Time `json:"establishedTime,omitempty"`
	// Received is the number of prefixes received.
	// +optional
	Received *int64 `json:"received,omitempty"`
	// Accepted is the number of prefixes accepted by the import filter.
	// +optional
	Accepted *int64 `json:"accepted,omitempty"`
	// Limit is the configured max-prefix limit.
	// +optional
	Limit *int64 `json:"limit,omitempty"`
	// LastError is the last NOTIFICATION or max-prefix trip.
	// +optional
	LastError string `json:"lastError,omitempty"`
}

// FilterStatus summarises one family's import filter. The entries
// themselves live in the operator's cache, never in the object.
type FilterStatus struct {
	// Prefixes is the number of distinct prefixes the filter accepts
	// exactly (after bogon and length filtering); the shrink guard
	// compares it across rebuilds.
	Prefixes int64 `json:"prefixes"`
	// Entries is the number of prefix-list entries after aggregation.
	Entries int64 `json:"entries"`
	// ASSet is the AS-SET(s) the filter was built from.
	// +optional
	ASSet string `json:"asSet,omitempty"`
	// Sources are the IRR sources queried.
	// +listType=atomic
	// +optional
	Sources []string `json:"sources,omitempty"`
	// Digest is the SHA-256 of the entries.
	// +optional
	Digest string `json:"digest,omitempty"`
	// Updated is when the filter was built.
	// +optional
	Updated *metav1.Time `json:"updated,omitempty"`
}

// Filters holds the filter summary per family.
type Filters struct {
	// +optional
	IPv4 *FilterStatus `json:"ipv4,omitempty"`
	// +optional
	IPv6 *FilterStatus `json:"ipv6,omitempty"`
}

// PinnedSession is one session of a pinned configuration.
type PinnedSession struct {
	// Address is the peer's address.
	Address string `json:"address"`
	// Family is ipv4 or ipv6.
	// +kubebuilder:validation:Enum=ipv4;ipv6
	Family string `json:"family"`
	// Limit is the max-prefix limit pushed; 0 means none.
	// +optional
	Limit int64 `json:"limit,omitempty"`
}

// PinnedConfig is what the operator pushes to the router for an approved
// request. It is decided from PeeringDB and the IRR when the request is
// approved, and afterwards changes by itself only where a change widens
// the session (a new address, a higher limit, a filter that grows or shrinks
// within the guard). Anything that would remove or narrow it is held until a
// human accepts it (status.drift). The Router controller pushes exactly
// this, whether PeeringDB and the IRR answer or not.
type PinnedConfig struct {
	// Sessions to configure, with their limits.
	// +listType=map
	// +listMapKey=address
	// +optional
	Sessions []PinnedSession `json:"sessions,omitempty"`
	// IPv4Filter and IPv6Filter are the digests of the import filters
	// pushed; their entries are in the request's PrefixLists.
	// +optional
	IPv4Filter string `json:"ipv4Filter,omitempty"`
	// +optional
	IPv6Filter string `json:"ipv6Filter,omitempty"`
	// IPv4Export and IPv6Export are the digests of the export lists built
	// from the announce AS-SET (none without one), in the PrefixLists too;
	// the announce prefixes are added to them.
	// +optional
	IPv4Export string `json:"ipv4Export,omitempty"`
	// +optional
	IPv6Export string `json:"ipv6Export,omitempty"`
	// Digest identifies this configuration; status.applied.configDigest
	// equals it once the router has it.
	Digest string `json:"digest"`
	// Time the configuration last changed.
	Time metav1.Time `json:"time"`
	// Reason for the last change: Approved, Widened, FilterUpdated or
	// AcceptedByHuman.
	Reason string `json:"reason"`
	// Message says what changed.
	// +optional
	Message string `json:"message,omitempty"`
}

// DriftStatus is a change from PeeringDB or the IRR that would remove or
// narrow the pinned configuration and is held for a human.
type DriftStatus struct {
	// Token names this exact change; `kubectl peering accept` (the
	// annotation peering.dev/accept-drift=<token>) applies it. A later,
	// different change gets another token.
	Token string `json:"token"`
	// Since is when the change was first held.
	Since metav1.Time `json:"since"`
	// Changes lists what is held, one line each.
	// +listType=atomic
	Changes []string `json:"changes"`
}

// Results of a push in status.applied.
const (
	// AppliedResultApplied: the router has the pinned configuration.
	AppliedResultApplied = "Applied"
	// AppliedResultHeld: the router's neighbors for the request are left
	// exactly as they run (the configuration could not be built: a filter
	// or password could not be read); other changes went ahead.
	AppliedResultHeld = "Held"
	// AppliedResultRejected: nothing was pushed for the request (a value
	// no router may take); any neighbor it has is left as it runs.
	AppliedResultRejected = "Rejected"
	// AppliedResultRemoved: the request is being deleted and the router no
	// longer has its neighbors.
	AppliedResultRemoved = "Removed"
)

// AppliedStatus is the Router controller's report on this request: only
// it writes this field and status.sessions once the request is pinned.
type AppliedStatus struct {
	// Router the request's neighbors are on.
	Router string `json:"router"`
	// Result of the last apply for this request.
	// +kubebuilder:validation:Enum=Applied;Held;Rejected;Removed
	Result string `json:"result"`
	// ConfigDigest is the status.config.digest the router has (Applied).
	// +optional
	ConfigDigest string `json:"configDigest,omitempty"`
	// Reason and Message say why a request is Held or Rejected.
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// Time the result last changed.
	Time metav1.Time `json:"time"`
}

// PeeringRequestStatus is the observed state of a PeeringRequest.
type PeeringRequestStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Approved, Denied, PeeringDBValidated, FiltersReady,
	// Configured, Established, Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Approval is the decision on this request.
	// +optional
	Approval *ApprovalStatus `json:"approval,omitempty"`
	// Peer is what PeeringDB says about the peer.
	// +optional
	Peer *PeerInfo `json:"peer,omitempty"`
	// Sessions is the live state of each session.
	// +listType=map
	// +listMapKey=address
	// +optional
	Sessions []SessionStatus `json:"sessions,omitempty"`
	// SessionSummary is established/total sessions, e.g. 2/2.
	// +optional
	SessionSummary string `json:"sessionSummary,omitempty"`
	// Filters summarises the import filters: the pinned ones once the
	// request is approved, else the ones the approval would pin.
	// +optional
	Filters *Filters `json:"filters,omitempty"`
	// Config is what the operator pushes to the router (pinned).
	// +optional
	Config *PinnedConfig `json:"config,omitempty"`
	// Drift is a held change from PeeringDB or the IRR, if any.
	// +optional
	Drift *DriftStatus `json:"drift,omitempty"`
	// Applied is the Router controller's report on the last push.
	// +optional
	Applied *AppliedStatus `json:"applied,omitempty"`
	// Exports summarises what the sessions announce, per family (the
	// prefixes of the export policy and its digest).
	// +optional
	Exports *Filters `json:"exports,omitempty"`
	// ExportFilters are the export lists built from the announce AS-SET,
	// per family: the pinned ones once approved (like status.filters).
	// +optional
	ExportFilters *Filters `json:"exportFilters,omitempty"`
	// Imports is what the sessions mark on the routes they accept (not on
	// a route server's clients, whose routes are relayed as they came).
	// +optional
	Imports *ImportStatus `json:"imports,omitempty"`
	// LastClear is the last clear a NOC asked for (annotation
	// peering.dev/clear) and what came of it; written by the Router
	// controller.
	// +optional
	LastClear *ClearStatus `json:"lastClear,omitempty"`
	// Remote is the peer's answer to our Peering API request for these
	// sessions; written by kubectl peering request.
	// +optional
	Remote *RemoteStatus `json:"remote,omitempty"`
}

// ClearStatus records one clear of a request's sessions.
type ClearStatus struct {
	// Requested is the annotation's value it answers.
	Requested string `json:"requested"`
	// By is who asked (stamped by the admission webhook).
	// +optional
	By string `json:"by,omitempty"`
	// Soft: the sessions were not reset, their routes re-read.
	// +optional
	Soft bool `json:"soft,omitempty"`
	// Time it was done.
	Time metav1.Time `json:"time"`
	// Result is Cleared or Failed.
	// +kubebuilder:validation:Enum=Cleared;Failed
	Result string `json:"result"`
	// Message says what was cleared, or why not.
	// +optional
	Message string `json:"message,omitempty"`
}

// ImportStatus is what a request's sessions mark on the routes they
// accept, and where that comes from.
type ImportStatus struct {
	// LocalPreference set on the accepted routes (0 while drained).
	LocalPreference int64 `json:"localPreference"`
	// Communities added: the informational ones and our learned-from
	// large community.
	// +listType=atomic
	// +optional
	Communities []string `json:"communities,omitempty"`
	// HonourGracefulShutdown: routes the peer sends with GRACEFUL_SHUTDOWN
	// get local preference 0.
	HonourGracefulShutdown bool `json:"honourGracefulShutdown"`
	// From says where the settings come from, e.g. "IXPort decix-fra",
	// "Router edge1", "defaults", with "spec.localPreference" when the
	// request sets its own.
	// +optional
	From string `json:"from,omitempty"`
}

// Drain is a graceful shutdown in progress.
type Drain struct {
	// ShutdownAfter is how long the sessions stay up drained before they
	// are shut down, counted from when drain was set (the admission webhook
	// stamps the time in the peering.dev/drain-since annotation). Default
	// 10m; 0s keeps them up, drained, until undrained.
	// +optional
	ShutdownAfter *metav1.Duration `json:"shutdownAfter,omitempty"`
}

// DefaultDrainShutdownAfter is Drain's default wait before the shutdown:
// long enough for the peer's routers to move traffic away.
const DefaultDrainShutdownAfter = 10 * time.Minute

// AnnotationDrainSince is when spec.drain was set (RFC 3339), stamped by
// the admission webhook and removed with spec.drain.
const AnnotationDrainSince = "peering.dev/drain-since"

// PeeringRequest asks for BGP sessions with one network on one IXPort.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pr,categories=peering
// +kubebuilder:printcolumn:name="ASN",type=integer,JSONPath=`.spec.peerASN`
// +kubebuilder:printcolumn:name="Peer",type=string,JSONPath=`.status.peer.name`
// +kubebuilder:printcolumn:name="IX",type=string,JSONPath=`.spec.ixPortRef.name`
// +kubebuilder:printcolumn:name="Approved",type=string,JSONPath=`.status.approval.state`
// +kubebuilder:printcolumn:name="Sessions",type=string,JSONPath=`.status.sessionSummary`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Held",type=string,JSONPath=`.status.conditions[?(@.type=="DriftHeld")].reason`,priority=1
// +kubebuilder:printcolumn:name="Pushed",type=string,JSONPath=`.status.applied.result`,priority=1
// +kubebuilder:printcolumn:name="Requester",type=string,JSONPath=`.spec.requester.username`,priority=1
// +kubebuilder:printcolumn:name="Approver",type=string,JSONPath=`.status.approval.user`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PeeringRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   PeeringRequestSpec   `json:"spec"`
	Status PeeringRequestStatus `json:"status,omitempty"`
}

// PeeringRequestList is a list of PeeringRequests.
// +kubebuilder:object:root=true
type PeeringRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PeeringRequest `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PeeringRequest{}, &PeeringRequestList{})
}
