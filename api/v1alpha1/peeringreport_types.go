package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PeeringReportSpec is the peering coordinator's numbers for one period, as
// the operator last observed them in it. Ages are stored as times (since),
// not durations, so the numbers only change when the cluster does.
type PeeringReportSpec struct {
	// Period names the period: 2026-11 (monthly), 2026-w48 (weekly, ISO
	// week) or the start of a custom period (2026-11-03-0000).
	Period string `json:"period"`
	// Start and End bound the period (End excluded).
	Start metav1.Time `json:"start"`
	End   metav1.Time `json:"end"`
	// Recorded is when these numbers were observed.
	Recorded metav1.Time `json:"recorded"`

	// Networks PeeringDB shows at the IXs of our IXPorts (our own AS and
	// the IXs' route servers and collectors left out), counted once each.
	Networks int32 `json:"networks"`
	// Requested of those networks have a PeeringRequest.
	Requested int32 `json:"requested"`
	// Peered of those networks have a session Established.
	Peered int32 `json:"peered"`
	// Candidates are the networks without a PeeringRequest yet.
	Candidates int32 `json:"candidates"`
	// PeeredPercent is Peered of Networks, e.g. "12.5%" ("-" without networks).
	PeeredPercent string `json:"peeredPercent"`
	// IXPortsWithoutData are IXPorts whose IX PeeringDB data was not
	// loaded: their networks are missing from the counts.
	// +listType=atomic
	// +optional
	IXPortsWithoutData []string `json:"ixPortsWithoutData,omitempty"`

	// Requests counts every PeeringRequest; ByState by Ready reason.
	Requests int32 `json:"requests"`
	// +listType=map
	// +listMapKey=state
	// +optional
	ByState  []ReportStateCount `json:"byState,omitempty"`
	Approval ReportApproval     `json:"approval"`
	Sessions ReportSessions     `json:"sessions"`

	// Traffic is set when the operator is given traffic per ASN.
	// +optional
	Traffic *ReportTraffic `json:"traffic,omitempty"`

	// MedianDecision is the median time from a request's creation to its
	// approval or denial, over the requests decided so far.
	// +optional
	MedianDecision *metav1.Duration `json:"medianDecision,omitempty"`
	// MedianEstablished is the median time from approval to Established,
	// over the approved requests with a session up.
	// +optional
	MedianEstablished *metav1.Duration `json:"medianEstablished,omitempty"`

	// WaitingForAnswer are the requests waiting longest for a decision
	// (at most 5), oldest first; PendingRequests counts them all.
	// +listType=atomic
	// +optional
	WaitingForAnswer []ReportWaiting `json:"waitingForAnswer,omitempty"`
	PendingRequests  int32           `json:"pendingRequests"`
	// WaitingForPeer are the requests whose Established reason is
	// WaitingForPeer (configured on our side, the peer's side not), since
	// they were pushed (status.applied.time), oldest first, at most 10;
	// WaitingForPeerCount counts them all.
	// +listType=atomic
	// +optional
	WaitingForPeer      []ReportWaiting `json:"waitingForPeer,omitempty"`
	WaitingForPeerCount int32           `json:"waitingForPeerCount"`
}

// ReportStateCount is how many requests have one Ready reason.
type ReportStateCount struct {
	State    string `json:"state"`
	Requests int32  `json:"requests"`
}

// ReportApproval counts requests by decision.
type ReportApproval struct {
	Approved int32 `json:"approved"`
	Pending  int32 `json:"pending"`
	Denied   int32 `json:"denied"`
}

// ReportSessions counts BGP sessions.
type ReportSessions struct {
	Established int32 `json:"established"`
	Total       int32 `json:"total"`
}

// ReportTraffic is the share of our traffic exchanged with networks we peer
// with (a session Established).
type ReportTraffic struct {
	// Source names the traffic data (the file).
	Source   string `json:"source"`
	Networks int32  `json:"networks"`
	// +kubebuilder:validation:Minimum=0
	Bytes int64 `json:"bytes"`
	// +kubebuilder:validation:Minimum=0
	PeeredBytes int64 `json:"peeredBytes"`
	// PeeredPercent is PeeredBytes of Bytes, e.g. "31.2%".
	PeeredPercent string `json:"peeredPercent"`
}

// ReportWaiting is one request that waits.
type ReportWaiting struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	PeerASN   ASN    `json:"peerASN"`
	// Since is when the wait began.
	Since metav1.Time `json:"since"`
}

// PeeringReport records the peering coordinator's numbers for one period,
// and is named after it (2026-11); kubectl peering report reads them.
// Written by the operator, once per period and again only when the numbers
// change within it; a past period's report is never rewritten. The numbers are the object's spec, as with
// PrefixList: a record, written in one create or update, with no desired
// state to reconcile.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=prep,categories=peering
// +kubebuilder:printcolumn:name="Networks",type=integer,JSONPath=`.spec.networks`
// +kubebuilder:printcolumn:name="Candidates",type=integer,JSONPath=`.spec.candidates`
// +kubebuilder:printcolumn:name="Requests",type=integer,JSONPath=`.spec.requests`
// +kubebuilder:printcolumn:name="Sessions Up",type=integer,JSONPath=`.spec.sessions.established`
// +kubebuilder:printcolumn:name="Peered",type=string,JSONPath=`.spec.peeredPercent`
// +kubebuilder:printcolumn:name="Traffic Peered",type=string,JSONPath=`.spec.traffic.peeredPercent`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.spec.pendingRequests`
// +kubebuilder:printcolumn:name="Waiting For Peer",type=integer,JSONPath=`.spec.waitingForPeerCount`
// +kubebuilder:printcolumn:name="Recorded",type=date,JSONPath=`.spec.recorded`
type PeeringReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PeeringReportSpec `json:"spec"`
}

// PeeringReportList is a list of PeeringReports.
// +kubebuilder:object:root=true
type PeeringReportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PeeringReport `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PeeringReport{}, &PeeringReportList{})
}
