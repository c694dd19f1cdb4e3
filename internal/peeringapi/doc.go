// Package peeringapi serves and calls the IETF Peering API
// (draft-ietf-grow-peering-api-01, with the OpenAPI shapes of
// github.com/bgp/autopeer): a remote network lists our IX locations,
// requests sessions and reads their status; each requested session becomes
// a PeeringRequest that goes through the same validation and approval as
// any other. Nothing here approves, and nothing here writes a status.
package peeringapi

// The server creates and withdraws PeeringRequests in its namespace.
// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests,verbs=create;delete
