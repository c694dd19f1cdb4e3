package v1alpha1

// Finalizers the operator puts on its objects.
const (
	// FinalizerNeighborCleanup keeps a PeeringRequest until its neighbors are
	// removed from the router. The mutating webhook sets it when the
	// request is created (one API write less per request).
	FinalizerNeighborCleanup = "peering.dev/neighbor-cleanup"
	// FinalizerInUse keeps an IXPort or Router while other objects use it,
	// like Kubernetes' pvc-protection.
	FinalizerInUse = "peering.dev/in-use-protection"
)
