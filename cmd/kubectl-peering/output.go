package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"
)

// outputGroupVersion names the shapes -o json|yaml prints for rows and
// reports. They are the plugin's output, not API kinds: the version lets
// scripts rely on the field names.
var outputGroupVersion = schema.GroupVersion{Group: "kubectl.peering.dev", Version: "v1alpha1"}

// addOutputFlag adds -o: the output format, the one meaning of -o in every
// command. The first format is the default ("" for the table).
func addOutputFlag(cmd *cobra.Command, p *string, usage string, formats ...string) {
	cmd.Flags().StringVarP(p, "output", "o", formats[0], usage)
	named := slices.DeleteFunc(slices.Clone(formats), func(f string) bool { return f == "" })
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(named, cobra.ShellCompDirectiveNoFileComp))
}

// checkOutput refuses a format the command does not print.
func checkOutput(format string, formats ...string) error {
	if !slices.Contains(formats, format) {
		named := slices.DeleteFunc(slices.Clone(formats), func(f string) bool { return f == "" })
		return fmt.Errorf("-o %q: want %s (-o is the output format; new writes to a file with --output-file)",
			format, strings.Join(named, " or "))
	}
	return nil
}

// printObject prints obj as JSON or YAML with cli-runtime's printers,
// after stamping its kind in outputGroupVersion.
func printObject(w io.Writer, format, kind string, obj runtime.Object) error {
	obj.GetObjectKind().SetGroupVersionKind(outputGroupVersion.WithKind(kind))
	var p printers.ResourcePrinter
	switch format {
	case "json":
		p = &printers.JSONPrinter{}
	case "yaml":
		p = &printers.YAMLPrinter{}
	default:
		return fmt.Errorf("-o %q: not an object format", format)
	}
	return p.PrintObj(obj, w)
}

// listOf is the List every row-based command prints with -o json|yaml.
type listOf[T any] struct {
	metav1.TypeMeta `json:",inline"`
	Items           []T `json:"items"`
}

func (l *listOf[T]) DeepCopyObject() runtime.Object {
	c := *l
	c.Items = slices.Clone(l.Items)
	return &c
}
