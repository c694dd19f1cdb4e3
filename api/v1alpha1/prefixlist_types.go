package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels on every PrefixList, so the lists of one request (or one filter)
// are found without reading their data.
const (
	// LabelRequestUID is the UID of the PeeringRequest the list belongs to.
	LabelRequestUID = "peering.dev/request-uid"
	// LabelFilterDigest is the filter digest's hex, cut to a label
	// value's 63 characters.
	LabelFilterDigest = "peering.dev/filter-digest"
	// LabelFamily is "ipv4" or "ipv6".
	LabelFamily = "peering.dev/family"
)

// PrefixListEncodingV1 is the encoding of PrefixListSpec.Data: the entries
// in canonical order, each address as a delta from the previous one
// (unsigned varints), then its length and ge/le, all DEFLATE-compressed.
const PrefixListEncodingV1 = "delta-varint-deflate/v1"

// PrefixListSpec is one part of an import filter the operator pushed or is
// about to push. The lists are written once and never changed: a new filter
// is a new list, named after its digest.
type PrefixListSpec struct {
	// Request is the name of the PeeringRequest (in this namespace) the
	// filter belongs to.
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request"`
	// Family is ipv4 or ipv6.
	// +kubebuilder:validation:Enum=ipv4;ipv6
	Family string `json:"family"`
	// Digest of the whole filter (policy.Digest over its entries), the
	// same value status.filters shows.
	// +kubebuilder:validation:Pattern=`^sha256:[0-9a-f]{64}$`
	Digest string `json:"digest"`
	// Prefixes and Entries count the whole filter.
	Prefixes int64 `json:"prefixes"`
	Entries  int64 `json:"entries"`
	// ASSet is what the filter was expanded from.
	// +optional
	ASSet string `json:"asSet,omitempty"`
	// Sources are the IRR sources queried.
	// +listType=atomic
	// +optional
	Sources []string `json:"sources,omitempty"`
	// Built is when the filter was built from the IRR.
	// +optional
	Built *metav1.Time `json:"built,omitempty"`
	// Part is this object's index among the Parts objects holding the
	// filter's data (a large filter does not fit in one object).
	// +kubebuilder:validation:Minimum=0
	Part int32 `json:"part"`
	// +kubebuilder:validation:Minimum=1
	Parts int32 `json:"parts"`
	// Encoding of Data.
	// +kubebuilder:validation:Enum="delta-varint-deflate/v1"
	Encoding string `json:"encoding"`
	// Data is this part of the encoded entries.
	// +kubebuilder:validation:MaxLength=1048576
	Data []byte `json:"data"`
}

// PrefixList holds (a part of) one import filter, so that what was pushed
// to a router survives restarts and leader failover without the IRR. Lists
// are owned by their PeeringRequest and deleted with it; no controller
// watches them.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=pfl,categories=peering
// +kubebuilder:printcolumn:name="Request",type=string,JSONPath=`.spec.request`
// +kubebuilder:printcolumn:name="Family",type=string,JSONPath=`.spec.family`
// +kubebuilder:printcolumn:name="Prefixes",type=integer,JSONPath=`.spec.prefixes`
// +kubebuilder:printcolumn:name="Entries",type=integer,JSONPath=`.spec.entries`
// +kubebuilder:printcolumn:name="Part",type=integer,JSONPath=`.spec.part`
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.spec.digest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PrefixList struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PrefixListSpec `json:"spec"`
}

// PrefixListList is a list of PrefixLists.
// +kubebuilder:object:root=true
type PrefixListList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PrefixList `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PrefixList{}, &PrefixListList{})
}
