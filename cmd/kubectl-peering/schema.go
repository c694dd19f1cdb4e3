package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/crdschema"
)

// crds are the operator's CRDs, built into the plugin: validate applies the
// API server's own checks of them (no hand copy of the rules to drift).
var crds = sync.OnceValues(crdschema.Operator)

// checkSchema applies the CRD's rules (unknown fields, OpenAPI, list types,
// CEL) to a peering.dev document, with the API server's own code and
// words, and the object-name rules the API server adds. name is
// metadata.name ("" when missing).
func checkSchema(d doc, name string) []finding {
	var fs []finding
	bad := func(line int, reason, msg string) {
		fs = append(fs, finding{file: d.file, line: line, request: displayName(d, name), severity: "error", reason: reason, msg: msg})
	}
	n := d.node
	if k, _ := get(n, "status"); k != nil {
		fs = append(fs, finding{file: d.file, line: k.Line, request: displayName(d, name), severity: "warning", reason: "StatusIgnored",
			msg: "status is written by the operator and approvers; the API server ignores it in a file"})
	}
	if name == "" {
		bad(lineOf(n, d.line, "metadata"), "MissingField", "metadata.name is required (e.g. as13335-decix-fra)")
	} else if errs := k8svalidation.IsDNS1123Subdomain(name); len(errs) > 0 {
		bad(lineOf(n, d.line, "metadata", "name"), "InvalidField", fmt.Sprintf("metadata.name %q: %s", name, strings.Join(errs, "; ")))
	}
	if ns := str(n, "metadata", "namespace"); ns != "" {
		if errs := k8svalidation.IsDNS1123Label(ns); len(errs) > 0 {
			bad(lineOf(n, d.line, "metadata", "namespace"), "InvalidField", fmt.Sprintf("metadata.namespace %q: %s", ns, strings.Join(errs, "; ")))
		}
	}
	schemas, err := crds()
	if err != nil {
		bad(d.line, "InternalError", fmt.Sprintf("the CRDs built into the plugin do not load: %v", err))
		return fs
	}
	raw, err := yaml.Marshal(n)
	if err == nil {
		var obj map[string]any
		if obj, err = crdschema.FromYAML(raw); err == nil {
			for _, e := range schemas.Validate(context.Background(), obj) {
				msg := e.Error()
				if e.Field == "<nil>" { // about the whole object
					msg = e.Detail
				}
				bad(lineOfField(n, d.line, e.Field), reasonOf(e), msg)
			}
		}
	}
	if err != nil {
		bad(d.line, "InvalidField", fmt.Sprintf("not a %s object: %v", str(n, "kind"), err))
	}
	return fs
}

func displayName(d doc, name string) string {
	if str(d.node, "kind") != "PeeringRequest" {
		return ""
	}
	if ns := str(d.node, "metadata", "namespace"); ns != "" && name != "" {
		return ns + "/" + name
	}
	if name == "" {
		return "(unnamed)"
	}
	return name
}

// reasonOf is a finding's reason for a schema error.
func reasonOf(e *field.Error) string {
	switch {
	case e.Type == field.ErrorTypeRequired:
		return "MissingField"
	case e.Type == field.ErrorTypeForbidden && strings.HasPrefix(e.Detail, "unknown field"):
		return "UnknownField"
	}
	return "InvalidField"
}

var fieldStep = regexp.MustCompile(`^([^\[\]]*)((?:\[\d+\])*)$`)

// lineOfField is the line of a field path as the API server writes it
// (spec.addresses[1]), or of its nearest parent in the file.
func lineOfField(n *yaml.Node, def int, path string) int {
	line := def
	cur := n
	for part := range strings.SplitSeq(path, ".") {
		m := fieldStep.FindStringSubmatch(part)
		if m == nil || part == "" {
			break
		}
		k, v := get(cur, m[1])
		if k == nil {
			break
		}
		line, cur = k.Line, v
		for _, idx := range strings.FieldsFunc(m[2], func(r rune) bool { return r == '[' || r == ']' }) {
			i, _ := strconv.Atoi(idx)
			if cur == nil || cur.Kind != yaml.SequenceNode || i >= len(cur.Content) {
				return line
			}
			cur = cur.Content[i]
			line = cur.Line
		}
	}
	return line
}

// requestFrom decodes a PeeringRequest document that passed checkSchema;
// spec.requester is refused (the webhook stamps it from whoever applies).
func requestFrom(d doc, name string) (*peeringv1.PeeringRequest, []finding) {
	fs := checkSchema(d, name)
	if k, _ := get(d.node, "spec", "requester"); k != nil {
		fs = append(fs, finding{file: d.file, line: k.Line, request: displayName(d, name), severity: "error", reason: "InvalidField",
			msg: "spec.requester is set by the operator from who creates the request; leave it out of the file"})
	}
	for _, f := range fs {
		if f.severity == "error" {
			return nil, fs
		}
	}
	pr := &peeringv1.PeeringRequest{}
	if err := decodeInto(d.node, pr, false); err != nil {
		fs = append(fs, finding{file: d.file, line: d.line, request: displayName(d, name), severity: "error", reason: "InvalidField", msg: err.Error()})
		return nil, fs
	}
	return pr, fs
}
