// Package webhook holds the admission webhooks of PeeringRequests: the
// approval model (cert-manager's CertificateRequest approval, adapted) and
// the requester stamp.
//
//   - Approved and Denied are only ever True, never both, and immutable once
//     set. Setting one needs verb `approve` on the request's IXPort
//     (`ixports/<name>` in group peering.dev), checked with a
//     SubjectAccessReview; status.approval then records who, when and why.
//   - spec.requester is stamped from the authenticated creator; a different
//     value is refused and it never changes.
//   - Once approved, the fields the approval covered cannot change (refused,
//     not silently un-approved: Approved is immutable, and a NOC must see a
//     new request for a new peering).
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// Paths the webhooks are served on.
const (
	ValidatePath = "/validate-peering-dev-v1alpha1-peeringrequest"
	MutatePath   = "/mutate-peering-dev-v1alpha1-peeringrequest"
)

// ApproveVerb is the RBAC verb on ixports that allows deciding requests.
const ApproveVerb = "approve"

// +kubebuilder:webhook:path=/validate-peering-dev-v1alpha1-peeringrequest,mutating=false,failurePolicy=fail,sideEffects=None,groups=peering.dev,resources=peeringrequests;peeringrequests/status,verbs=create;update,versions=v1alpha1,name=vpeeringrequest.peering.dev,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-peering-dev-v1alpha1-peeringrequest,mutating=true,failurePolicy=fail,sideEffects=None,groups=peering.dev,resources=peeringrequests;peeringrequests/status,verbs=create;update,versions=v1alpha1,name=mpeeringrequest.peering.dev,admissionReviewVersions=v1
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=peering.dev,resources=ixports,verbs=approve

// Validator checks PeeringRequest writes.
type Validator struct {
	// Client creates SubjectAccessReviews.
	Client client.Client
}

// Mutator stamps the requester and records approvals.
type Mutator struct {
	// Now is the clock for status.approval.time; default time.Now.
	Now func() time.Time
}

// Register serves both webhooks on the manager's webhook server.
func Register(mgr manager.Manager) {
	srv := mgr.GetWebhookServer()
	srv.Register(ValidatePath, &ctrlwebhook.Admission{Handler: &Validator{Client: mgr.GetClient()}})
	srv.Register(MutatePath, &ctrlwebhook.Admission{Handler: &Mutator{}})
	srv.Register(DrainStampPath, &ctrlwebhook.Admission{Handler: &DrainStamper{}})
}

// decoder reads admission requests with the peering.dev types.
var decoder = func() admission.Decoder {
	s := runtime.NewScheme()
	utilruntime.Must(peeringv1.AddToScheme(s))
	return admission.NewDecoder(s)
}()

func decode(raw runtime.RawExtension) (*peeringv1.PeeringRequest, error) {
	if len(raw.Raw) == 0 {
		return nil, nil
	}
	pr := &peeringv1.PeeringRequest{}
	if err := decoder.DecodeRaw(raw, pr); err != nil {
		return nil, err
	}
	return pr, nil
}

// Handle validates one request.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	pr, err := decode(req.Object)
	if err != nil || pr == nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("cannot decode the PeeringRequest: %v", err))
	}
	old, err := decode(req.OldObject)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("cannot decode the old PeeringRequest: %v", err))
	}
	user := req.UserInfo
	switch {
	case req.Operation == admissionv1.Create:
		if r := pr.Spec.Requester; r != nil && r.Username != user.Username {
			return admission.Denied(fmt.Sprintf("spec.requester.username is %q but the request is created by %q: the requester cannot be chosen; leave spec.requester out", r.Username, user.Username))
		}
		return admission.Allowed("")
	case old == nil:
		return admission.Allowed("")
	case req.SubResource == "status":
		return v.validateStatus(ctx, req, old, pr)
	default:
		if r := validateSpec(old, pr); !r.Allowed {
			return r
		}
		if acceptChanged(old, pr) {
			// Accepting a held change may remove or narrow a live
			// session: a decision like an approval.
			if r := v.may(ctx, req, pr, ApproveVerb, "accept a held change on"); !r.Allowed {
				return r
			}
		}
		if limitsChanged(old, pr) {
			if r := v.may(ctx, req, pr, ApproveVerb, "change the prefix limits of approved"); !r.Allowed {
				return r
			}
		}
		if annotationChanged(old, pr, peeringv1.AnnotationClear) {
			// Clearing resets live sessions: a NOC's act on the port.
			return v.may(ctx, req, pr, ClearVerb, "clear the sessions of")
		}
		return admission.Allowed("")
	}
}

// Annotations the mutating webhook stamps: who last accepted a held change,
// who last asked for a clear.
const (
	AnnotationAcceptedBy = "peering.dev/accepted-by"
	AnnotationClearedBy  = "peering.dev/cleared-by"
)

// ClearVerb is the RBAC verb on ixports that allows clearing sessions.
const ClearVerb = "clear"

// acceptChanged: an accept annotation was set or changed.
func acceptChanged(old, pr *peeringv1.PeeringRequest) bool {
	return annotationChanged(old, pr, peeringv1.AnnotationAcceptDrift, peeringv1.AnnotationAcceptFilter)
}

// annotationChanged: one of keys was set to a new, non-empty value.
func annotationChanged(old, pr *peeringv1.PeeringRequest, keys ...string) bool {
	for _, k := range keys {
		if v, ok := pr.Annotations[k]; ok && v != "" && v != old.Annotations[k] {
			return true
		}
	}
	return false
}

// validateSpec: the requester never changes, and an approved request keeps
// what was approved.
func validateSpec(old, pr *peeringv1.PeeringRequest) admission.Response {
	if !equality.Semantic.DeepEqual(old.Spec.Requester, pr.Spec.Requester) && old.Spec.Requester != nil {
		return admission.Denied("spec.requester is set by the operator when the request is created and cannot change")
	}
	if !decided(old, peeringv1.PeeringRequestApproved) {
		return admission.Allowed("")
	}
	covered := func(s peeringv1.PeeringRequestSpec) any {
		return []any{s.PeerASN, s.IXPortRef, s.Addresses, s.IRRASSet, s.RouteServer, s.PasswordSecretRef}
	}
	if !equality.Semantic.DeepEqual(covered(old.Spec), covered(pr.Spec)) {
		return admission.Denied(fmt.Sprintf("PeeringRequest %s/%s is approved: peerASN, ixPortRef, addresses, irrASSet, routeServer and passwordSecretRef are what the NOC approved and cannot change; delete the request and create a new one (description, shutdown, announce and, by an approver, maxPrefixes may change)", pr.Namespace, pr.Name))
	}
	return admission.Allowed("")
}

// limitsChanged: an approved request's maxPrefixes changed, which only an
// approver may do (a NOC raising a limit after a trip).
func limitsChanged(old, pr *peeringv1.PeeringRequest) bool {
	return decided(old, peeringv1.PeeringRequestApproved) && !equality.Semantic.DeepEqual(old.Spec.MaxPrefixes, pr.Spec.MaxPrefixes)
}

// validateStatus enforces the approval model on status writes.
func (v *Validator) validateStatus(ctx context.Context, req admission.Request, old, pr *peeringv1.PeeringRequest) admission.Response {
	for _, t := range []string{peeringv1.PeeringRequestApproved, peeringv1.PeeringRequestDenied} {
		oc := meta.FindStatusCondition(old.Status.Conditions, t)
		nc := meta.FindStatusCondition(pr.Status.Conditions, t)
		if nc != nil && nc.Status != metav1.ConditionTrue {
			return admission.Denied(fmt.Sprintf("condition %s can only be True: a request is decided once; to withdraw, delete the request", t))
		}
		if oc != nil && oc.Status == metav1.ConditionTrue {
			if nc == nil || nc.Reason != oc.Reason || nc.Message != oc.Message || !nc.LastTransitionTime.Equal(&oc.LastTransitionTime) {
				return admission.Denied(fmt.Sprintf("condition %s is set and cannot be changed or removed", t))
			}
		}
	}
	if decided(pr, peeringv1.PeeringRequestApproved) && decided(pr, peeringv1.PeeringRequestDenied) {
		return admission.Denied("a request cannot be both Approved and Denied")
	}
	if a, b := old.Status.Approval, pr.Status.Approval; a != nil && a.User != "" && (b == nil || b.User != a.User) {
		return admission.Denied("status.approval.user records who decided and cannot change")
	}
	newly := ""
	for _, t := range []string{peeringv1.PeeringRequestApproved, peeringv1.PeeringRequestDenied} {
		if decided(pr, t) && !decided(old, t) {
			newly = t
		}
	}
	if newly == "" {
		return admission.Allowed("")
	}
	return v.may(ctx, req, pr, ApproveVerb, "set "+newly+" on")
}

// may allows the write when the user has verb on the request's IXPort (a
// SubjectAccessReview), act saying what the write does.
func (v *Validator) may(ctx context.Context, req admission.Request, pr *peeringv1.PeeringRequest, verb, act string) admission.Response {
	port := pr.Spec.IXPortRef.Name
	extra := map[string]authv1.ExtraValue{}
	for k, val := range req.UserInfo.Extra {
		extra[k] = authv1.ExtraValue(val)
	}
	sar := &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
		User: req.UserInfo.Username, UID: req.UserInfo.UID, Groups: req.UserInfo.Groups, Extra: extra,
		ResourceAttributes: &authv1.ResourceAttributes{
			Group: peeringv1.GroupVersion.Group, Resource: "ixports", Name: port, Verb: verb,
		},
	}}
	if err := v.Client.Create(ctx, sar); err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("cannot check whether %q may %s: %v", req.UserInfo.Username, verb, err))
	}
	if !sar.Status.Allowed {
		return admission.Denied(fmt.Sprintf("%s may not %s PeeringRequest %s/%s: this needs verb %q on ixports/%s in group peering.dev (bind the peering-approver ClusterRole)",
			req.UserInfo.Username, act, pr.Namespace, pr.Name, verb, port))
	}
	return admission.Allowed("")
}

// Handle stamps the requester and the cleanup finalizer on create and
// records a decision in status.approval.
func (m *Mutator) Handle(_ context.Context, req admission.Request) admission.Response {
	pr, err := decode(req.Object)
	if err != nil || pr == nil {
		// The API server checks the CRD's schema after the mutating
		// webhooks: it names the field and what is wrong (peerASN:
		// "13335" "must be of type integer"), Go's decoder would not. The
		// object is refused there, or by the validating webhook, which
		// runs after the schema and cannot decode it either.
		return admission.Allowed("")
	}
	old, err := decode(req.OldObject)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("cannot decode the old PeeringRequest: %v", err))
	}
	changed := pr.DeepCopy()
	if req.SubResource == "" {
		m.stampDrain(old, changed)
	}
	switch {
	case req.Operation == admissionv1.Create:
		switch r := changed.Spec.Requester; {
		case r == nil:
			changed.Spec.Requester = &peeringv1.UserInfo{Username: req.UserInfo.Username, UID: req.UserInfo.UID, Groups: slices.Clone(req.UserInfo.Groups)}
		case r.Username == "":
			// The Peering API server names the remote caller and
			// leaves its own identity to be stamped here.
			r.Username, r.UID, r.Groups = req.UserInfo.Username, req.UserInfo.UID, slices.Clone(req.UserInfo.Groups)
		}
		// Set here, the operator's own patch to add it is not needed: one
		// API write less per request.
		controllerutil.AddFinalizer(changed, peeringv1.FinalizerNeighborCleanup)
	case old != nil && req.SubResource == "":
		// An apply that leaves the field out keeps it.
		if changed.Spec.Requester == nil {
			changed.Spec.Requester = old.Spec.Requester
		}
		if acceptChanged(old, changed) {
			changed.Annotations[AnnotationAcceptedBy] = req.UserInfo.Username
		}
		if annotationChanged(old, changed, peeringv1.AnnotationClear) {
			changed.Annotations[AnnotationClearedBy] = req.UserInfo.Username
		}
	case old != nil && req.SubResource == "status":
		for t, state := range map[string]string{peeringv1.PeeringRequestApproved: peeringv1.ApprovalStateApproved, peeringv1.PeeringRequestDenied: peeringv1.ApprovalStateDenied} {
			if decided(changed, t) && !decided(old, t) {
				c := meta.FindStatusCondition(changed.Status.Conditions, t)
				now := metav1.NewTime(m.now().UTC().Truncate(time.Second))
				changed.Status.Approval = &peeringv1.ApprovalStatus{State: state, User: req.UserInfo.Username, Time: &now, Reason: c.Message}
			}
		}
	}
	if equality.Semantic.DeepEqual(pr, changed) {
		return admission.Allowed("")
	}
	raw, err := json.Marshal(changed)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

// stampDrain keeps peering.dev/drain-since in step with spec.drain.
func (m *Mutator) stampDrain(old, pr *peeringv1.PeeringRequest) {
	var oldAnn map[string]string
	if old != nil && old.Spec.Drain != nil {
		oldAnn = old.Annotations
	}
	pr.Annotations = drainStamp(oldAnn, pr.Annotations, pr.Spec.Drain != nil, m.now())
}

func (m *Mutator) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func decided(pr *peeringv1.PeeringRequest, t string) bool {
	return meta.IsStatusConditionTrue(pr.Status.Conditions, t)
}
