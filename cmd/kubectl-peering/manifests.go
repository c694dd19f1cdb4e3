package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// finding is one thing validate reports, tied to a line of a file.
type finding struct {
	file     string
	line     int
	request  string // display name of the request; "" for the file
	severity string // "error" or "warning"
	reason   string // one CamelCase word, as in the conditions
	msg      string
}

// doc is one YAML document.
type doc struct {
	file string
	line int
	node *yaml.Node // the top-level mapping
}

// yamlFiles expands files and directories (recursively) into the YAML
// files they hold, in lexical order, each once.
func yamlFiles(paths []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[filepath.Clean(p)] {
			seen[filepath.Clean(p)] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir // .git and friends
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				add(path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// readDocs splits a file into its documents. A syntax error ends the
// file (what follows cannot be trusted) and is reported with its line.
func readDocs(file string) ([]doc, []finding) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, []finding{{file: file, line: 1, severity: "error", reason: "FileUnreadable", msg: err.Error()}}
	}
	var docs []doc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			line := 1
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			msg = yamlLine.ReplaceAllString(msg, "")
			msg = strings.TrimLeft(msg, ": ")
			return docs, []finding{{file: file, line: line, severity: "error", reason: "InvalidYAML",
				msg: "not valid YAML: " + msg + "; nothing after this point in the file was checked"}}
		}
		if len(n.Content) == 0 || n.Content[0].Tag == "!!null" {
			continue // an empty document (a trailing ---)
		}
		top := n.Content[0]
		if top.Kind != yaml.MappingNode {
			return docs, []finding{{file: file, line: top.Line, severity: "error", reason: "InvalidYAML",
				msg: "a Kubernetes object must be a YAML mapping (key: value)"}}
		}
		docs = append(docs, doc{file: file, line: top.Line, node: top})
	}
}

// get returns the key and value nodes at path in a mapping, nil when absent.
func get(n *yaml.Node, path ...string) (key, val *yaml.Node) {
	val = n
	for _, p := range path {
		if val == nil || val.Kind != yaml.MappingNode {
			return nil, nil
		}
		var found bool
		for i := 0; i+1 < len(val.Content); i += 2 {
			if val.Content[i].Value == p {
				key, val, found = val.Content[i], val.Content[i+1], true
				break
			}
		}
		if !found {
			return nil, nil
		}
	}
	return key, val
}

// lineOf is the line of the field at path, else of the deepest parent
// present, else def.
func lineOf(n *yaml.Node, def int, path ...string) int {
	for i := len(path); i > 0; i-- {
		if k, _ := get(n, path[:i]...); k != nil {
			return k.Line
		}
	}
	return def
}

func str(n *yaml.Node, path ...string) string {
	_, v := get(n, path...)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

// decodeInto turns a YAML node into a typed object through JSON, as
// kubectl does; strict rejects fields the type does not have.
func decodeInto(n *yaml.Node, out any, strict bool) error {
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if strict {
		d.DisallowUnknownFields()
	}
	return d.Decode(out)
}

// Field sets of a PeeringRequest as the CRD defines them; a typo
// (peerAsn, ixPort) is an error, as the API server's strict field
// validation makes it.
var (
	prTopFields  = []string{"apiVersion", "kind", "metadata", "spec", "status"}
	prSpecFields = []string{"peerASN", "ixPortRef", "addresses", "irrASSet", "maxPrefixes", "passwordSecretRef",
		"description", "shutdown"}
	prSubFields = map[string][]string{
		"ixPortRef":         {"name"},
		"maxPrefixes":       {"ipv4", "ipv6"},
		"passwordSecretRef": {"name", "key"},
	}
	// The CRD's pattern for spec.irrASSet.
	irrASSetPattern = regexp.MustCompile(`^([A-Za-z0-9-]+::)?[A-Za-z0-9][A-Za-z0-9:_.-]*( ([A-Za-z0-9-]+::)?[A-Za-z0-9][A-Za-z0-9:_.-]*)*$`)
)

// checkRequestSchema applies the CRD's rules (OpenAPI and CEL) to a
// PeeringRequest document, so a pull request fails on what the API server
// would refuse at apply time. It returns the typed object when the
// document is well-formed.
func checkRequestSchema(d doc, name string) (*peeringv1.PeeringRequest, []finding) {
	var fs []finding
	bad := func(line int, reason, format string, args ...any) {
		fs = append(fs, finding{file: d.file, line: line, request: name, severity: "error", reason: reason,
			msg: fmt.Sprintf(format, args...)})
	}
	n := d.node
	unknown := func(m *yaml.Node, where string, allowed []string) {
		if m == nil || m.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i]; !slices.Contains(allowed, k.Value) {
				bad(k.Line, "UnknownField", "unknown field %s%s (known: %s)", where, k.Value, strings.Join(allowed, ", "))
			}
		}
	}
	unknown(n, "", prTopFields)
	if k, _ := get(n, "status"); k != nil {
		fs = append(fs, finding{file: d.file, line: k.Line, request: name, severity: "warning", reason: "StatusIgnored",
			msg: "status is written by the operator and approvers; the API server ignores it in a file"})
	}

	if name == "" {
		bad(lineOf(n, d.line, "metadata"), "MissingField", "metadata.name is required (e.g. as13335-decix-fra)")
	} else if errs := k8svalidation.IsDNS1123Subdomain(name); len(errs) > 0 {
		bad(lineOf(n, d.line, "metadata", "name"), "InvalidField", "metadata.name %q: %s", name, strings.Join(errs, "; "))
	}
	if ns := str(n, "metadata", "namespace"); ns != "" {
		if errs := k8svalidation.IsDNS1123Label(ns); len(errs) > 0 {
			bad(lineOf(n, d.line, "metadata", "namespace"), "InvalidField", "metadata.namespace %q: %s", ns, strings.Join(errs, "; "))
		}
	}

	_, spec := get(n, "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		bad(lineOf(n, d.line, "spec"), "MissingField", "spec is required, with at least peerASN and ixPortRef.name")
		return nil, fs
	}
	unknown(spec, "spec.", append(slices.Clone(prSpecFields), "requester"))
	if k, _ := get(spec, "requester"); k != nil {
		// The operator's webhook stamps it from whoever applies the file
		// (the GitOps service account) and refuses any other value.
		bad(k.Line, "InvalidField", "spec.requester is set by the operator from who creates the request; leave it out of the file")
	}
	for sub, allowed := range prSubFields {
		_, v := get(spec, sub)
		unknown(v, "spec."+sub+".", allowed)
	}

	// peerASN: an integer 1..4294967295, not AS_TRANS.
	switch k, v := get(spec, "peerASN"); {
	case k == nil:
		bad(lineOf(n, d.line, "spec"), "MissingField", "spec.peerASN is required: the AS number of the network to peer with")
	case v.Kind != yaml.ScalarNode || v.Tag != "!!int":
		bad(k.Line, "InvalidField", "spec.peerASN %q is not a whole number; write the AS number without \"AS\", e.g. 13335", v.Value)
	default:
		asn, err := strconv.ParseInt(v.Value, 0, 64)
		if err == nil {
			err = checkASN(asn)
		} else {
			err = fmt.Errorf("%q is out of range: an AS number is 1..4294967295", v.Value)
		}
		if err != nil {
			bad(k.Line, "InvalidField", "spec.peerASN: %v", err)
		}
	}

	// ixPortRef.name: required, an object name.
	switch k, v := get(spec, "ixPortRef", "name"); {
	case k == nil:
		bad(lineOf(n, d.line, "spec", "ixPortRef"), "MissingField", "spec.ixPortRef.name is required: the IXPort to peer on (kubectl get ixports)")
	case v.Kind != yaml.ScalarNode || v.Value == "":
		bad(k.Line, "InvalidField", "spec.ixPortRef.name must be an IXPort name")
	default:
		if errs := k8svalidation.IsDNS1123Subdomain(v.Value); len(errs) > 0 {
			bad(k.Line, "InvalidField", "spec.ixPortRef.name %q: %s", v.Value, strings.Join(errs, "; "))
		}
	}

	// addresses: up to 8 distinct IPs without prefix length.
	if k, v := get(spec, "addresses"); k != nil {
		switch {
		case v.Kind != yaml.SequenceNode:
			bad(k.Line, "InvalidField", "spec.addresses must be a list of IP addresses")
		default:
			if len(v.Content) > 8 {
				bad(k.Line, "InvalidField", "spec.addresses has %d entries; at most 8", len(v.Content))
			}
			seen := map[netip.Addr]bool{}
			for _, it := range v.Content {
				a, err := netip.ParseAddr(it.Value)
				switch {
				case it.Kind != yaml.ScalarNode || err != nil || a.Zone() != "":
					hint := ""
					if strings.Contains(it.Value, "/") {
						hint = " (no prefix length: the peer's address, not the LAN)"
					}
					bad(it.Line, "InvalidField", "spec.addresses: %q is not an IPv4 or IPv6 address%s", it.Value, hint)
				case seen[a.Unmap()]:
					bad(it.Line, "InvalidField", "spec.addresses: %s is listed twice", it.Value)
				}
				seen[a.Unmap()] = true
			}
		}
	}

	if k, v := get(spec, "description"); k != nil {
		switch {
		case v.Kind != yaml.ScalarNode:
			bad(k.Line, "InvalidField", "spec.description must be text")
		case len(v.Value) > 200:
			bad(k.Line, "InvalidField", "spec.description is %d characters; at most 200", len(v.Value))
		case strings.IndexFunc(v.Value, unicode.IsControl) >= 0:
			bad(k.Line, "InvalidField", "spec.description must not contain control characters such as newlines or tabs")
		}
	}
	if k, v := get(spec, "irrASSet"); k != nil {
		if v.Kind != yaml.ScalarNode || len(v.Value) > 512 || !irrASSetPattern.MatchString(v.Value) {
			bad(k.Line, "InvalidField", "spec.irrASSet %q: want AS-SET or ASN names separated by single spaces, each optionally SOURCE::, e.g. RIPE::AS-EXAMPLE AS-EXAMPLE-V6", v.Value)
		}
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		if k, v := get(spec, "maxPrefixes", fam); k != nil {
			n, err := strconv.ParseInt(v.Value, 10, 64)
			if v.Tag != "!!int" || err != nil || n < 1 || n > 10000000 {
				bad(k.Line, "InvalidField", "spec.maxPrefixes.%s %q: want a whole number 1..10000000", fam, v.Value)
			}
		}
	}
	if k, v := get(spec, "passwordSecretRef"); k != nil && str(v, "name") == "" {
		bad(k.Line, "MissingField", "spec.passwordSecretRef.name is required: the Secret holding the MD5 password")
	}
	if k, v := get(spec, "shutdown"); k != nil && v.Tag != "!!bool" {
		bad(k.Line, "InvalidField", "spec.shutdown %q: want true or false", v.Value)
	}
	if slices.ContainsFunc(fs, func(f finding) bool { return f.severity == "error" }) {
		return nil, fs
	}

	pr := &peeringv1.PeeringRequest{}
	if err := decodeInto(n, pr, true); err != nil {
		// Caught above in all but odd cases (a metadata field of the wrong
		// type); the decoder's words are the best there are.
		bad(d.line, "InvalidField", "%v", err)
		return nil, fs
	}
	return pr, fs
}
