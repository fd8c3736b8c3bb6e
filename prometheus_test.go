package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smartassist-exporter/smartassist_exporter/dashboards"
)

// Grafana's variables as the test expands them: "All" for every filter,
// the default service-level threshold, and ranges that hold enough samples
// of a one-second scrape.
var dashboardVariables = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__range", "5m",
	"$sl_threshold", "20",
	"$job", ".*",
	"$instance", ".*",
	"$channel", ".*",
	"$queue", ".*",
	"$agent", ".*",
)

// lastWeek matches the "same time last week" comparisons of the capacity
// dashboard (1 to 9 weeks back). A Prometheus started for the test has no
// data a week old, so such a target is queried without its offset: that
// still proves it parses and selects existing series.
var lastWeek = regexp.MustCompile(`\s+offset [1-9]w`)

type promClient struct {
	base string
}

type promResult struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	} `json:"data"`
}

func (p promClient) query(expr string) (promResult, error) {
	var r promResult
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, err
	}
	if r.Status != "success" {
		return r, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return r, nil
}

// dashboardExprs walks every panel (rows included) of every embedded
// dashboard and returns its queries by "file / panel title".
func dashboardExprs(t *testing.T) (map[string][]string, map[string]string) {
	t.Helper()
	exprs := map[string][]string{}
	variables := map[string]string{}
	files, _ := fs.Glob(dashboards.Files, "*.json")
	for _, f := range files {
		b, _ := dashboards.Files.ReadFile(f)
		var d struct {
			Panels     []panel `json:"panels"`
			Templating struct {
				List []struct {
					Name  string `json:"name"`
					Type  string `json:"type"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				for _, tg := range p.Targets {
					exprs[f+" / "+p.Title] = append(exprs[f+" / "+p.Title], tg.Expr)
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
		for _, v := range d.Templating.List {
			if q, ok := v.Query.(string); ok && v.Type == "query" {
				variables[f+" / $"+v.Name] = q
			}
		}
	}
	return exprs, variables
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// labelValues turns Grafana's label_values(selector, label) into PromQL
// that returns one series per value.
var labelValues = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestPrometheusQueries runs the exporter in -demo mode and a real
// Prometheus 2 (Debian's) scraping it every second with the bundled rules,
// then checks through Prometheus's HTTP API that every dashboard query and
// variable and every rule parses and returns data, and that promtool
// accepts and passes the rules.
func TestPrometheusQueries(t *testing.T) {
	t.Parallel() // mostly waiting for scrapes, like the 3.x proof
	prometheus, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not found: apt-get install prometheus (.ci/run installs it)")
	}
	promtool, _ := exec.LookPath("promtool")
	proveQueries(t, prometheus, promtool)
}

// TestPrometheus3Queries does the same with Prometheus 3, which among
// other changes writes every bucket bound as a float (le="20.0").
func TestPrometheus3Queries(t *testing.T) {
	t.Parallel()
	dir := prometheus3Dir(t)
	proveQueries(t, filepath.Join(dir, "prometheus"), filepath.Join(dir, "promtool"))
}

// prometheus3Dir finds the folder of the Prometheus 3 that .ci/run builds.
func prometheus3Dir(t *testing.T) string {
	if dir := os.Getenv("TEST_PROMETHEUS3_DIR"); dir != "" {
		return dir
	}
	return filepath.Dir(builtTool(t, "", filepath.Join("smartassist-prom3", "*", "promtool"),
		"Prometheus 3 not built: run .ci/run (it builds github.com/prometheus/prometheus v0.315.0 into ~/.cache/smartassist-prom3)"))
}

func proveQueries(t *testing.T, prometheus, promtoolPath string) {
	rulesDir, _ := filepath.Abs(filepath.Join("deploy", "prometheus"))
	ruleFiles := []string{filepath.Join(rulesDir, "recording_rules.yml"), filepath.Join(rulesDir, "alerts.yml")}

	e := startExporter(t, map[string]string{
		"SMARTASSIST_STATE_PATH": filepath.Join(t.TempDir(), "demo.db"), "SMARTASSIST_POLL_INTERVAL": "1s",
		"SMARTASSIST_RECHECK_2H_PERIOD": "10s", "SMARTASSIST_EXEMPLARS": "true",
	}, "-demo")
	// A second account whose live state comes from Queue Size (as on a
	// tenant without Queue Performance): the live gauges only that source
	// gives (the longest wait) must feed the Live dashboard and rules too,
	// as the ones only Queue Performance gives (overdue, load) do above.
	e2 := startExporter(t, map[string]string{
		"SMARTASSIST_STATE_PATH": filepath.Join(t.TempDir(), "demo2.db"), "SMARTASSIST_POLL_INTERVAL": "5s",
		"SMARTASSIST_RECHECK_2H_PERIOD": "1m", "SMARTASSIST_LIVE_SOURCE": "queue_size", "SMARTASSIST_LIVE_INTERVAL": "5s",
	}, "-demo")

	dir := t.TempDir()
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q, %q]
scrape_configs:
  - job_name: smartassist
    static_configs: [{targets: [%q, %q]}]
`, ruleFiles[0], ruleFiles[1], e.addr, e2.addr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	startTool(t, "prometheus", prometheus, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		"--enable-feature=exemplar-storage")
	prom := promClient{base: "http://" + addr}
	// 20 one-second scrapes: enough for every rate over 1m and 5m.
	waitFor(t, 90*time.Second, "20 scrapes of the exporter", func() bool {
		r, err := prom.query(`count_over_time(smartassist_up{job="smartassist"}[1m]) >= 20`)
		return err == nil && len(r.Data.Result) == 2
	})

	checkExemplars(t, prom)

	exprs, variables := dashboardExprs(t)
	checked := 0
	for where, list := range exprs {
		for _, raw := range list {
			expr := dashboardVariables.Replace(raw)
			if lastWeek.MatchString(expr) {
				if !strings.Contains(where, "last week") && !strings.Contains(where, "weeks") {
					t.Errorf("%s: offset in weeks outside a week-over-week comparison", where)
				}
				expr = lastWeek.ReplaceAllString(expr, "")
			}
			checkReturnsData(t, prom, where, expr)
			checked++
		}
	}
	for where, q := range variables {
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("%s: variable query %q is not label_values(selector, label)", where, q)
			continue
		}
		checkReturnsData(t, prom, where, fmt.Sprintf("count by (%s) (%s)", m[2], dashboardVariables.Replace(m[1])))
		checked++
	}

	var recorded, alerts []string
	for _, f := range ruleFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatal(err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				switch {
				case r.Record != "":
					checkReturnsData(t, prom, "rule "+r.Record, r.Expr)
					recorded = append(recorded, r.Record)
				default:
					// An alert's expression returns series only while it
					// fires; it must parse and evaluate.
					if _, err := prom.query(r.Expr); err != nil {
						t.Errorf("alert %s: %v", r.Alert, err)
					}
					alerts = append(alerts, r.Alert)
				}
				checked++
			}
		}
	}
	// Prometheus itself evaluated every rule without error, and the
	// recorded series exist.
	waitFor(t, 30*time.Second, "recording rules evaluated", func() bool {
		for _, r := range recorded {
			if res, err := prom.query(r); err != nil || len(res.Data.Result) == 0 {
				return false
			}
		}
		return true
	})
	checkRuleHealth(t, prom, len(recorded)+len(alerts))
	for _, expr := range metricsDocExamples(t) {
		if _, err := prom.query(expr); err != nil {
			t.Errorf("METRICS.md example does not run: %v\n  %s", err, expr)
		}
		checked++
	}
	t.Logf("%d dashboard queries, variables and rules returned data from a real Prometheus", checked)
	e2.stop(t)

	if promtool := promtoolPath; promtool != "" {
		args := append([]string{"check", "rules"}, ruleFiles...)
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
		cmd := exec.Command(promtool, "test", "rules", filepath.Join("tests", "alerts_test.yml"))
		cmd.Dir = rulesDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool test rules: %v\n%s", err, out)
		}
	}
	e.stop(t)
}

// exemplarID is the charset the exporter allows in exemplar ids.
var exemplarID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,113}$`)

// checkExemplars is issue 13's "done means" against a real Prometheus with
// exemplar storage: every duration histogram's buckets carry exemplars
// whose only label is a valid conversation id.
func checkExemplars(t *testing.T, prom promClient) {
	t.Helper()
	end := time.Now().Add(time.Minute)
	for _, family := range exemplarDurationFamilies {
		var ids map[string]bool
		var lastErr error
		// The demo's first conversations arrive with the first polls.
		waitFor(t, 30*time.Second, "exemplars of "+family, func() bool {
			ids, lastErr = prom.exemplars(family+"_bucket", end.Add(-time.Hour), end)
			return lastErr == nil && len(ids) > 0
		})
		for id := range ids {
			if !exemplarID.MatchString(id) {
				t.Errorf("%s: exemplar conversation_id %q", family, id)
			}
		}
	}
}

// exemplars asks /api/v1/query_exemplars and returns the conversation ids
// found; an exemplar with any other label is an error.
func (p promClient) exemplars(selector string, start, end time.Time) (map[string]bool, error) {
	q := url.Values{"query": {selector}, "start": {fmt.Sprint(start.Unix())}, "end": {fmt.Sprint(end.Unix())}}
	resp, err := http.Get(p.base + "/api/v1/query_exemplars?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("query_exemplars %s: %w", selector, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query_exemplars %s: %s", selector, r.Error)
	}
	ids := map[string]bool{}
	for _, series := range r.Data {
		for _, e := range series.Exemplars {
			id, ok := e.Labels["conversation_id"]
			if !ok || len(e.Labels) != 1 {
				return nil, fmt.Errorf("query_exemplars %s: exemplar labels %v, want only conversation_id", selector, e.Labels)
			}
			ids[id] = true
		}
	}
	return ids, nil
}

// metricsDocExamples returns the PromQL of METRICS.md: the example column
// of its tables and the statements of its promql block.
func metricsDocExamples(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	doc := string(b)
	for line := range strings.SplitSeq(doc, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(line, "| `smartassist_") {
			continue
		}
		last := strings.TrimSpace(cells[len(cells)-2])
		if m := regexp.MustCompile("^`([^`]+\\(.*)`").FindStringSubmatch(last); m != nil {
			out = append(out, m[1])
		}
	}
	_, block, _ := strings.Cut(doc, "```promql\n")
	block, _, _ = strings.Cut(block, "```")
	for stmt := range strings.SplitSeq(block, "\n\n") {
		var lines []string
		for l := range strings.SplitSeq(stmt, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		// A statement may hold several one-line queries, or one spread over
		// lines (continuation lines start with an operator or a bracket).
		var cur []string
		for _, l := range lines {
			if len(cur) > 0 && !strings.ContainsAny(l[:1], "/*-+)(") && !strings.HasPrefix(l, "100") {
				out = append(out, strings.Join(cur, " "))
				cur = nil
			}
			cur = append(cur, l)
		}
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, " "))
		}
	}
	if len(out) < 30 {
		t.Fatalf("found only %d PromQL examples in METRICS.md", len(out))
	}
	return out
}

func checkReturnsData(t *testing.T, prom promClient, where, expr string) {
	t.Helper()
	r, err := prom.query(expr)
	switch {
	case err != nil:
		t.Errorf("%s: %v\n  %s", where, err, expr)
	case len(r.Data.Result) == 0:
		t.Errorf("%s: no series\n  %s", where, expr)
	}
}

func checkRuleHealth(t *testing.T, prom promClient, want int) {
	t.Helper()
	resp, err := http.Get(prom.base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			n++
			if rule.Health != "ok" {
				t.Errorf("rule %s: health %q %s", rule.Name, rule.Health, rule.LastError)
			}
		}
	}
	if n != want {
		t.Errorf("Prometheus loaded %d rules, the files hold %d", n, want)
	}
}

// TestMetricsDocExamplesExtracted: the extractor joins multi-line
// statements, so the real-Prometheus test runs whole queries.
func TestMetricsDocExamplesExtracted(t *testing.T) {
	found := false
	for _, e := range metricsDocExamples(t) {
		if strings.HasPrefix(e, "100 * (") {
			found = strings.Count(e, "(") == strings.Count(e, ")") && strings.HasSuffix(e, "[1d]))")
		}
		if strings.Count(e, "(") != strings.Count(e, ")") {
			t.Errorf("unbalanced example: %s", e)
		}
	}
	if !found {
		t.Error("the NPS example spread over lines was not joined")
	}
}
