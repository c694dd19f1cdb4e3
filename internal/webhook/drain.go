package webhook

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// DrainStampPath serves the drain stamp of IXPorts and Routers.
const DrainStampPath = "/mutate-peering-dev-v1alpha1-drain"

// +kubebuilder:webhook:path=/mutate-peering-dev-v1alpha1-drain,mutating=true,failurePolicy=fail,sideEffects=None,groups=peering.dev,resources=ixports;routers,verbs=create;update,versions=v1alpha1,name=mdrain.peering.dev,admissionReviewVersions=v1

// DrainStamper stamps peering.dev/drain-since on IXPorts and Routers, as
// the Mutator does on PeeringRequests: the shutdown of a drain counts from
// this stamp, so nobody can advance it by editing the time.
type DrainStamper struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Handle stamps, keeps or removes the annotation. The object is read as
// unstructured so that the patch touches nothing but the annotation.
func (m *DrainStamper) Handle(_ context.Context, req admission.Request) admission.Response {
	obj, hasDrain, err := drainOfRaw(req.Object)
	if err != nil || obj == nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("cannot decode the %s: %v", req.Kind.Kind, err))
	}
	old, oldDrain, err := drainOfRaw(req.OldObject)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("cannot decode the old %s: %v", req.Kind.Kind, err))
	}
	var oldAnn map[string]string
	if old != nil && oldDrain {
		oldAnn = old.GetAnnotations()
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	ann := obj.GetAnnotations()
	want := drainStamp(oldAnn, ann, hasDrain, now())
	if want[peeringv1.AnnotationDrainSince] == ann[peeringv1.AnnotationDrainSince] && len(want) == len(ann) {
		return admission.Allowed("")
	}
	obj.SetAnnotations(want)
	raw, err := obj.MarshalJSON()
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

func drainOfRaw(raw runtime.RawExtension) (*unstructured.Unstructured, bool, error) {
	if len(raw.Raw) == 0 {
		return nil, false, nil
	}
	u := &unstructured.Unstructured{}
	if err := decoder.DecodeRaw(raw, u); err != nil {
		return nil, false, err
	}
	d, found, err := unstructured.NestedFieldNoCopy(u.Object, "spec", "drain")
	return u, found && err == nil && d != nil, nil
}

// drainStamp returns the annotations with peering.dev/drain-since in step
// with spec.drain: set to now when a drain starts, kept while it lasts
// (the old object's stamp wins over any edit, so nobody can move it),
// removed when it ends. oldAnn are the old object's annotations while it
// was drained (nil otherwise).
func drainStamp(oldAnn, ann map[string]string, drain bool, now time.Time) map[string]string {
	out := make(map[string]string, len(ann)+1)
	for k, v := range ann {
		out[k] = v
	}
	was := oldAnn[peeringv1.AnnotationDrainSince]
	switch {
	case !drain:
		delete(out, peeringv1.AnnotationDrainSince)
	case was != "":
		out[peeringv1.AnnotationDrainSince] = was
	default:
		out[peeringv1.AnnotationDrainSince] = now.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
