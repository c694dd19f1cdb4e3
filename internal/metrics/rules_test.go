package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var (
	promDir       = filepath.Join("..", "..", "config", "prometheus")
	dashboardPath = filepath.Join("..", "..", "config", "grafana", "peering-operator.json")
	// ruleTests are promtool's test files, one per evaluation interval.
	ruleTests = []string{"rules_test.yaml", "rules_days_test.yaml"}
)

// targetLabels are what a scrape adds to every series; queries may name
// them although no collector has them.
var targetLabels = []string{"instance", "job", "pod", "namespace", "service", "endpoint", "container"}

// promtool returns promtool's path; without it the test skips, or fails
// with CI=true, where .ci/run installs it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed, and CI=true: install it (apt-get install -y --no-install-recommends prometheus)")
		}
		t.Skip("promtool is not installed (apt-get install -y --no-install-recommends prometheus); CI=true makes this a failure")
	}
	return p
}

func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

// TestAlertRules checks the rule file and runs its unit tests: every alert
// fires on the synthetic series it is meant for, and not on the others.
func TestAlertRules(t *testing.T) {
	runPromtool(t, promDir, "check", "rules", "rules.yaml")
	runPromtool(t, promDir, append([]string{"test", "rules"}, ruleTests...)...)
}

type ruleFile struct {
	Groups []map[string]any `json:"groups"`
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestPrometheusRuleMatchesRuleFile keeps the PrometheusRule and the plain
// rule file from drifting apart: promtool tests only the latter.
func TestPrometheusRuleMatchesRuleFile(t *testing.T) {
	var plain ruleFile
	readYAML(t, filepath.Join(promDir, "rules.yaml"), &plain)
	var cr struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Spec       ruleFile `json:"spec"`
	}
	readYAML(t, filepath.Join(promDir, "prometheusrule.yaml"), &cr)
	if cr.APIVersion != "monitoring.coreos.com/v1" || cr.Kind != "PrometheusRule" {
		t.Fatalf("prometheusrule.yaml is %s %s, want monitoring.coreos.com/v1 PrometheusRule", cr.APIVersion, cr.Kind)
	}
	if len(plain.Groups) == 0 {
		t.Fatal("rules.yaml has no groups")
	}
	if len(plain.Groups) != len(cr.Spec.Groups) {
		t.Fatalf("rules.yaml has %d groups, prometheusrule.yaml %d: edit both together", len(plain.Groups), len(cr.Spec.Groups))
	}
	for i := range plain.Groups {
		if !reflect.DeepEqual(plain.Groups[i], cr.Spec.Groups[i]) {
			a, _ := json.MarshalIndent(plain.Groups[i], "", "  ")
			b, _ := json.MarshalIndent(cr.Spec.Groups[i], "", "  ")
			t.Errorf("group %d differs between rules.yaml and prometheusrule.yaml (edit both together):\nrules.yaml:\n%s\nprometheusrule.yaml:\n%s", i, a, b)
		}
	}
}

type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func alertRules(t *testing.T) []rule {
	t.Helper()
	var f struct {
		Groups []struct {
			Rules []rule `json:"rules"`
		} `json:"groups"`
	}
	readYAML(t, filepath.Join(promDir, "rules.yaml"), &f)
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("rules.yaml has no rules")
	}
	return out
}

// TestAlertRulesAreComplete: each alert says how bad it is and what to
// do, and is exercised by promtool's tests.
func TestAlertRulesAreComplete(t *testing.T) {
	var tested strings.Builder
	for _, f := range ruleTests {
		b, err := os.ReadFile(filepath.Join(promDir, f))
		if err != nil {
			t.Fatal(err)
		}
		tested.Write(b)
	}
	for _, r := range alertRules(t) {
		if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
			t.Errorf("alert %s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("alert %s: needs a summary and a description saying what to do", r.Alert)
		}
		if n := strings.Count(tested.String(), "alertname: "+r.Alert+"\n"); n < 2 {
			t.Errorf("alert %s: %d promtool cases, want one where it fires and one where it does not", r.Alert, n)
		}
	}
}

var (
	metricName = regexp.MustCompile(`\bpeering_[a-z0-9_]+\b`)
	// selector is a metric with label matchers; matcher one of them.
	selector = regexp.MustCompile(`\b(peering_[a-z0-9_]+)\{([^}]*)\}`)
	matcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	// grouping lists the labels of on, by, without, ignoring and
	// group_left/right.
	grouping    = regexp.MustCompile(`\b(?:on|by|without|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	labelValues = regexp.MustCompile(`label_values\(\s*(peering_[a-z0-9_]+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
)

// checkQuery reports metric and label names a query uses that the operator
// does not export: a renamed metric or label would otherwise leave an alert
// or a panel silently empty.
func checkQuery(series map[string][]string, q string) []string {
	var bad []string
	used := append([]string(nil), targetLabels...)
	for _, m := range metricName.FindAllString(q, -1) {
		labels, ok := series[m]
		if !ok {
			bad = append(bad, "metric "+m+" is not one the operator registers")
			continue
		}
		used = append(used, labels...)
	}
	for _, s := range selector.FindAllStringSubmatch(q, -1) {
		for _, l := range matcher.FindAllStringSubmatch(s[2], -1) {
			if labels, ok := series[s[1]]; ok && !slices.Contains(labels, l[1]) && !slices.Contains(targetLabels, l[1]) {
				bad = append(bad, fmt.Sprintf("metric %s has no label %s", s[1], l[1]))
			}
		}
	}
	for _, g := range grouping.FindAllStringSubmatch(q, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(used, l) {
				bad = append(bad, fmt.Sprintf("label %s (in %s) is on none of the query's metrics", l, strings.TrimSpace(g[0])))
			}
		}
	}
	for _, lv := range labelValues.FindAllStringSubmatch(q, -1) {
		if labels, ok := series[lv[1]]; ok && !slices.Contains(labels, lv[2]) {
			bad = append(bad, fmt.Sprintf("metric %s has no label %s", lv[1], lv[2]))
		}
	}
	return bad
}

// TestRulesUseOperatorMetrics: every metric and label an alert names is one
// the operator exports.
func TestRulesUseOperatorMetrics(t *testing.T) {
	series := Series()
	for _, r := range alertRules(t) {
		if !metricName.MatchString(r.Expr) {
			t.Errorf("alert %s uses none of the operator's metrics: %s", r.Alert, r.Expr)
		}
		for _, b := range checkQuery(series, r.Expr) {
			t.Errorf("alert %s: %s", r.Alert, b)
		}
	}
}

var seriesLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$`)

// TestRuleTestSeriesAreShapedLikeTheMetrics: promtool's synthetic series
// carry exactly the labels the real metrics have (plus a scrape's), so a
// passing test says something about the real ones.
func TestRuleTestSeriesAreShapedLikeTheMetrics(t *testing.T) {
	series := Series()
	n := 0
	for _, f := range ruleTests {
		var tf struct {
			Tests []struct {
				InputSeries []struct {
					Series string `json:"series"`
				} `json:"input_series"`
			} `json:"tests"`
		}
		readYAML(t, filepath.Join(promDir, f), &tf)
		for _, tc := range tf.Tests {
			for _, in := range tc.InputSeries {
				n++
				m := seriesLine.FindStringSubmatch(in.Series)
				if m == nil {
					t.Errorf("%s: cannot read series %q", f, in.Series)
					continue
				}
				want, ok := series[m[1]]
				if !ok {
					t.Errorf("%s: series %s is not one the operator exports", f, m[1])
					continue
				}
				var got []string
				for _, l := range matcher.FindAllStringSubmatch(m[2], -1) {
					if !slices.Contains(targetLabels, l[1]) {
						got = append(got, l[1])
					}
				}
				sort.Strings(got)
				if !slices.Equal(got, want) {
					t.Errorf("%s: %s has labels %v, the operator's %v", f, in.Series, got, want)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no input series found in the promtool tests")
	}
}

// grafanaVar is a dashboard variable in a query: $name, ${name} or
// ${name:format}.
var grafanaVar = regexp.MustCompile(`\$\{?(\w+)(?::\w+)?\}?`)

// dashboardQueries returns every expr of the dashboard's targets and the
// query of its variables, by where they are.
func dashboardQueries(t *testing.T) (map[string]string, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardPath, err)
	}
	out := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && k == "expr" {
					out[path+".expr"] = s
					continue
				}
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		}
	}
	walk("panels", dash["panels"])
	tmpl, _ := dash["templating"].(map[string]any)
	vars, _ := tmpl["list"].([]any)
	for i, v := range vars {
		v, _ := v.(map[string]any)
		if v["type"] != "query" {
			continue
		}
		switch q := v["query"].(type) {
		case string:
			out[fmt.Sprintf("templating[%d].query", i)] = q
		case map[string]any:
			s, _ := q["query"].(string)
			out[fmt.Sprintf("templating[%d].query.query", i)] = s
		}
	}
	return out, dash
}

// TestDashboard: the dashboard is valid JSON, queries only what the
// operator exports, and its PromQL parses.
func TestDashboard(t *testing.T) {
	queries, dash := dashboardQueries(t)
	for _, k := range []string{"title", "uid", "panels"} {
		if dash[k] == nil {
			t.Errorf("dashboard has no %s", k)
		}
	}
	if len(queries) == 0 {
		t.Fatal("dashboard has no queries")
	}
	series := Series()
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboard\n  rules:\n")
	keys := make([]string, 0, len(queries))
	for k := range queries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		q := queries[k]
		if !metricName.MatchString(q) {
			t.Errorf("%s uses none of the operator's metrics: %s", k, q)
		}
		for _, b := range checkQuery(series, q) {
			t.Errorf("%s: %s", k, b)
		}
		if strings.HasPrefix(k, "templating") {
			continue // label_values() is Grafana's, not PromQL
		}
		// Variables as Grafana would fill them in, so promtool parses it.
		expr := grafanaVar.ReplaceAllStringFunc(q, func(v string) string {
			if strings.Contains(v, "interval") || strings.Contains(v, "range") {
				return "5m"
			}
			return ".*"
		})
		e, _ := json.Marshal(expr)
		fmt.Fprintf(&rules, "  - record: dashboard:query_%d\n    expr: %s\n", i, e)
	}
	if t.Failed() {
		return
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.yaml"), []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, dir, "check", "rules", "dashboard.yaml")
}
