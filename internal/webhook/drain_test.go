package webhook

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// The drain stamp of IXPorts and Routers: set when spec.drain appears,
// kept (whatever an edit says) while it lasts, removed with it; nothing
// else of the object is patched.
func TestDrainStamper(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m := &DrainStamper{Now: func() time.Time { return now }}
	router := func(drain bool, ann map[string]string) []byte {
		r := &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "edge1", Annotations: ann}}
		r.APIVersion, r.Kind = "peering.dev/v1alpha1", "Router"
		r.Spec.Driver, r.Spec.Address, r.Spec.LocalASN, r.Spec.RouterID = peeringv1.DriverFRR, "192.0.2.1", 64500, "192.0.2.1"
		if drain {
			r.Spec.Drain = &peeringv1.Drain{}
		}
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	// apply runs the webhook and returns the patched annotations.
	apply := func(old, obj []byte) map[string]string {
		t.Helper()
		op := admissionv1.Update
		if old == nil {
			op = admissionv1.Create
		}
		resp := m.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Operation: op, Kind: metav1.GroupVersionKind{Group: "peering.dev", Version: "v1alpha1", Kind: "Router"},
			Object: runtime.RawExtension{Raw: obj}, OldObject: runtime.RawExtension{Raw: old}}})
		if !resp.Allowed {
			t.Fatalf("refused: %v", resp.Result)
		}
		doc := map[string]any{}
		if err := json.Unmarshal(obj, &doc); err != nil {
			t.Fatal(err)
		}
		if len(resp.Patches) > 0 {
			for _, p := range resp.Patches {
				if p.Path != "/metadata/annotations" && p.Path != "/metadata/annotations/peering.dev~1drain-since" {
					t.Errorf("the patch touches %s", p.Path)
				}
			}
			raw, _ := json.Marshal(resp.Patches)
			patched, err := applyPatch(obj, raw)
			if err != nil {
				t.Fatal(err)
			}
			obj = patched
		}
		r := &peeringv1.Router{}
		if err := json.Unmarshal(obj, r); err != nil {
			t.Fatal(err)
		}
		return r.Annotations
	}
	const stamp = "2026-12-01T12:00:00Z"
	if got := apply(nil, router(true, map[string]string{"team": "noc"})); got[peeringv1.AnnotationDrainSince] != stamp || got["team"] != "noc" {
		t.Errorf("create with a drain: %v", got)
	}
	if got := apply(nil, router(false, nil)); got[peeringv1.AnnotationDrainSince] != "" {
		t.Errorf("create without a drain: %v", got)
	}
	earlier := map[string]string{peeringv1.AnnotationDrainSince: "2026-12-01T11:00:00Z"}
	if got := apply(router(true, earlier), router(true, map[string]string{peeringv1.AnnotationDrainSince: "2020-01-01T00:00:00Z"})); got[peeringv1.AnnotationDrainSince] != "2026-12-01T11:00:00Z" {
		t.Errorf("an edit moved the start of a drain: %v", got)
	}
	if got := apply(router(true, earlier), router(true, nil)); got[peeringv1.AnnotationDrainSince] != "2026-12-01T11:00:00Z" {
		t.Errorf("an apply without the annotation lost it: %v", got)
	}
	if got := apply(router(true, earlier), router(false, earlier)); got[peeringv1.AnnotationDrainSince] != "" {
		t.Errorf("undrain kept the stamp: %v", got)
	}
	if got := apply(router(false, nil), router(true, map[string]string{peeringv1.AnnotationDrainSince: "2020-01-01T00:00:00Z"})); got[peeringv1.AnnotationDrainSince] != stamp {
		t.Errorf("a drain that starts took the writer's time: %v", got)
	}
}

func applyPatch(doc, patch []byte) ([]byte, error) {
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, err
	}
	return p.Apply(doc)
}
