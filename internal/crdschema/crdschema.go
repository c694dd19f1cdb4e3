// Package crdschema checks objects against the operator's generated CRDs
// with the API server's own validation code: unknown fields (as kubectl's
// strict field validation reports them), defaults, the OpenAPI schema,
// list-type invariants and the CEL rules. A file checked here is refused or
// accepted as `kubectl apply` would, with the same messages, and the rules
// have one source: the markers on the Go types.
package crdschema

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	crds "github.com/peering-operator/peering-operator/config/crd"
)

// Schemas are the CRDs' schemas by group, version and kind.
type Schemas struct {
	byGVK map[schema.GroupVersionKind]*versionSchema
}

// versionSchema is one served version of a CRD, ready to validate.
type versionSchema struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator // nil without x-kubernetes-validations
}

// Operator returns the schemas of the operator's own CRDs (config/crd/bases,
// embedded when built).
func Operator() (*Schemas, error) {
	files, err := fs.Glob(crds.Bases, "bases/*.yaml")
	if err != nil {
		return nil, err
	}
	var docs [][]byte
	for _, f := range files {
		b, err := fs.ReadFile(crds.Bases, f)
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
	return New(docs...)
}

// New reads CustomResourceDefinitions (YAML or JSON, one each).
func New(docs ...[]byte) (*Schemas, error) {
	s := &Schemas{byGVK: map[schema.GroupVersionKind]*versionSchema{}}
	for _, doc := range docs {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(doc, &crd); err != nil {
			return nil, fmt.Errorf("reading a CRD: %w", err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				return nil, fmt.Errorf("CRD %s version %s has no schema", crd.Name, v.Name)
			}
			vs, err := compile(v.Schema.OpenAPIV3Schema)
			if err != nil {
				return nil, fmt.Errorf("CRD %s version %s: %w", crd.Name, v.Name, err)
			}
			s.byGVK[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}] = vs
		}
	}
	return s, nil
}

func compile(in *apiextensionsv1.JSONSchemaProps) (*versionSchema, error) {
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(in, internal, nil); err != nil {
		return nil, err
	}
	structural, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, err
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		return nil, err
	}
	return &versionSchema{
		structural: structural,
		openAPI:    openAPI,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// Validate checks a new object (apiVersion, kind and all, as decoded from
// JSON or YAML: numbers int64 or float64) the way the API server checks a
// create with strict field validation. obj gets the schema's defaults.
// Errors carry the API server's field paths and messages.
func (s *Schemas) Validate(ctx context.Context, obj map[string]any) field.ErrorList {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("apiVersion"), apiVersion, err.Error())}
	}
	vs := s.byGVK[gv.WithKind(kind)]
	if vs == nil {
		return field.ErrorList{field.NotSupported(field.NewPath("kind"), kind, s.kinds(gv.Group))}
	}

	var errs field.ErrorList
	// Unknown fields: what pruning would drop, which strict field
	// validation (kubectl apply's default) refuses instead.
	unknown := structuralpruning.PruneWithOptions(runtime.DeepCopyJSONValue(obj), vs.structural, true,
		structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	slices.Sort(unknown)
	for _, p := range unknown {
		errs = append(errs, field.Forbidden(field.NewPath(p), fmt.Sprintf("unknown field: not in the %s schema (kubectl apply refuses it: strict field validation)", kind)))
	}
	structuraldefaulting.Default(obj, vs.structural)

	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, vs.openAPI)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, vs.structural, obj)...)
	if blocking(errs) {
		// As the API server does: CEL rules assume a well-typed object,
		// and it says so in these words.
		return append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
	}
	celErrs, _ := vs.cel.Validate(ctx, nil, vs.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// blocking mirrors the API server: after these errors the CEL rules are
// not evaluated.
func blocking(errs field.ErrorList) bool {
	return slices.ContainsFunc(errs, func(e *field.Error) bool {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
		return false
	})
}

func (s *Schemas) kinds(group string) []string {
	var out []string
	for gvk := range s.byGVK {
		if gvk.Group == group {
			out = append(out, gvk.GroupVersion().String()+" "+gvk.Kind)
		}
	}
	slices.Sort(out)
	return out
}

// FromYAML decodes one YAML or JSON document the way the API server decodes
// a request body: whole numbers as int64, others as float64.
func FromYAML(doc []byte) (map[string]any, error) {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(j, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("the document is empty")
	}
	return obj, nil
}

// NotSaidBy lists the errors in errs whose text the API server's answer
// apiErr does not contain, word for word: none when Validate says what the
// API server says (for tests that hold one against the other).
func NotSaidBy(apiErr error, errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		if apiErr == nil || !strings.Contains(apiErr.Error(), e.Error()) {
			out = append(out, e.Error())
		}
	}
	return out
}
