package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
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
