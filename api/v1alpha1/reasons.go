package v1alpha1

// Reasons of the operator's conditions and events, in one place so that the
// controllers, the plugin, the alert rules and the docs use the same names
// (as Cluster API and cert-manager keep theirs in their API packages).
// Values are part of the API: never change one.

// Ready reasons every kind shares.
const (
	ReasonDeletionWaits  = "DeletionBlocked"
	ReasonNotReconciling = "Idle"
	ReasonNotStalled     = "NotStalled"
)

// A PeeringRequest.
const (
	// Ready reasons of a PeeringRequest, in the order the gates are checked.
	// PeeringDB's failure reasons are those of the validation, below.
	ReasonIXPortNotFound = "IXPortNotFound"
	ReasonDenied         = "Denied"
	// ReasonPeeringDBUnavailable: the IX's PeeringDB data is not loaded
	// (the sync failed or has not run). Held; clears by itself.
	ReasonPeeringDBUnavailable = "PeeringDBUnavailable"
	// ReasonPeeringDBThrottled: nothing is cached for the IX and PeeringDB
	// holds a query the load needs; the message says which, until when.
	ReasonPeeringDBThrottled   = "PeeringDBThrottled"
	ReasonValidated            = "Validated"
	ReasonWaitingForApproval   = "WaitingForApproval"
	ReasonFiltersPending       = "FiltersPending"
	ReasonConfigurationPending = "ConfigurationPending"
	ReasonNotApproved          = "NotApproved"
	ReasonNotValidated         = "NotValidated"
	ReasonNotConfigured        = "NotConfigured"
	ReasonSessionsEstablished  = "Established"
	ReasonSessionsDown         = "SessionsNotEstablished"
	// ReasonWaitingForPeer: configured on our side for longer than the
	// operator's --waiting-for-peer-after, and no session has come up: the
	// other side has not configured theirs. The message says the days waited.
	ReasonWaitingForPeer = "WaitingForPeer"
	ReasonAdminShutdown  = "AdministrativelyDown"
	ReasonDrained        = "Drained"

	// ReasonAutoApproved marks an approval by the IXPort's AutoOpen policy.
	ReasonAutoApproved = "AutoApproved"
)

// Filters of a PeeringRequest.
const (
	// Reasons of FiltersReady besides the guard's (below).
	ReasonFiltersBuilt   = "FiltersBuilt"
	ReasonIRRUnavailable = "IRRUnavailable"
	ReasonFilterAccepted = "FilterAcceptedByHuman"
)

// What a PeeringRequest announces.
const (
	// Reasons of the Announcing condition.
	ReasonAnnouncing        = "Announcing"
	ReasonNothingToAnnounce = "NothingToAnnounce"
	ReasonRouteServerRelays = "RouteServerRelays"
)

// The pinned configuration of a PeeringRequest and its drift.
const (
	// Reasons of a pinned configuration's last change (status.config.reason).
	ReasonPinApproved      = "Approved"
	ReasonPinWidened       = "Widened"
	ReasonPinFilterUpdated = "FilterUpdated"
	ReasonPinAccepted      = "AcceptedByHuman"

	// Reasons of DriftHeld besides PeeringDB's validation reasons and the
	// filter guard's (FilterEmptyHeld, FilterShrinkHeld).
	ReasonInSync         = "InSync"
	ReasonAddressRemoved = "AddressRemoved"
	ReasonLimitLowered   = "LimitLowered"
)

// The filter guard (internal/policy): a new filter is taken or held for a human.
const (
	// Guard reasons, for the FiltersReady condition.
	ReasonGuardAccepted   = "FilterAccepted"
	ReasonFilterUnchanged = "FilterUnchanged"
	ReasonFilterEmpty     = "FilterEmptyHeld"
	ReasonFilterShrink    = "FilterShrinkHeld"
)

// PeeringDB validation (internal/validation) of a request and its IXPort.
const (
	// ReasonIXNotFound: the IXPort's IX id is not in PeeringDB. Final.
	ReasonIXNotFound = "IXNotFound"
	// ReasonNetworkNotFound: the peer ASN has no network in PeeringDB. Final.
	ReasonNetworkNotFound = "NetworkNotFound"
	// ReasonNotAtIX: the peer has no port (netixlan) on the IX. Final.
	ReasonNotAtIX = "NotAtIX"
	// ReasonAddressMismatch: a requested address is not one of the peer's
	// addresses on the IX. Final.
	ReasonAddressMismatch = "AddressMismatch"
	// ReasonAddressOutsideLAN: an address is outside the IX's LAN
	// prefixes. Final.
	ReasonAddressOutsideLAN = "AddressOutsideLAN"
	// ReasonPeerPolicyNo: the peer's general policy is "No". Held.
	ReasonPeerPolicyNo = "PeerPolicyNo"
	// ReasonNeverViaRouteServers: the peer refuses route-server sessions
	// and the IXPort is a route server. Final.
	ReasonNeverViaRouteServers = "NeverViaRouteServers"
	// ReasonNotOperational: the peer's port is marked not operational. Held.
	ReasonNotOperational = "NotOperational"
	// ReasonNoSessionAddresses: the peer is at the IX but PeeringDB lists
	// no address for it there. Held.
	ReasonNoSessionAddresses = "NoSessionAddresses"
	// ReasonPrefixLengthMismatch: an IXPort address has a prefix length
	// other than its LAN's. Final.
	ReasonPrefixLengthMismatch = "PrefixLengthMismatch"
)

// An IXPort.
const (
	ReasonRouterNotFound = "RouterNotFound"
	ReasonRouterFound    = "RouterFound"
	ReasonPortValid      = "PortValidated"
)

// A Router.
const (
	ReasonReachable         = "Reachable"
	ReasonUnreachable       = "Unreachable"
	ReasonApplied           = "Applied"
	ReasonApplyFailed       = "ApplyFailed"
	ReasonDriverUnavailable = "DriverUnavailable"
	ReasonCredentialsError  = "CredentialsError"
)

// A neighbor on its Router (Configured, and why not).
const (
	// Reasons of the Configured condition and of status.applied, set from the
	// Router controller's view.
	ReasonConfigured           = "Configured"
	ReasonInvalidForRouter     = "InvalidForRouter"
	ReasonPasswordSecretError  = "PasswordSecretError"
	ReasonFilterUnavailable    = "FilterUnavailable"
	ReasonAddressInUse         = "AddressInUse"
	ReasonNeighborRemovalWaits = "NeighborRemovalPending"
)
