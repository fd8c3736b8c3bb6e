// Package deploy holds no code: its tests check the deployment files
// (Helm chart, docker compose stack, Dockerfile build) with the real tools.
package deploy

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const chart = "helm/smartassist-exporter"

func tool(t *testing.T, name, how string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("%s not found: %s (.ci/run installs it)", name, how)
	return ""
}

// skipShort skips a test of the slow tier under go test -short.
func skipShort(t *testing.T, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that " + why)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestChartCopiesAreCurrent: the chart's copies of the rules and dashboards
// are the files they are generated from.
func TestChartCopiesAreCurrent(t *testing.T) {
	pairs := map[string]string{}
	rules, _ := filepath.Glob("prometheus/*.yml")
	for _, r := range rules {
		pairs[r] = filepath.Join(chart, "files", "rules", filepath.Base(r))
	}
	dashboards, _ := filepath.Glob(filepath.Join(chart, "files", "dashboards", "*.json"))
	for _, d := range dashboards {
		pairs[filepath.Join("..", "dashboards", filepath.Base(d))] = d
	}
	if len(rules) != 2 || len(dashboards) != 7 {
		t.Fatalf("%d rule files, %d dashboards in the chart", len(rules), len(dashboards))
	}
	for src, cp := range pairs {
		a, err1 := os.ReadFile(src)
		b, err2 := os.ReadFile(cp)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s: run `npm run generate` in dashboards/ (%v %v)", cp, src, err1, err2)
		}
	}
}

type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec map[string]any    `yaml:"spec"`
	Data map[string]string `yaml:"data"`
}

func renderChart(t *testing.T, helm string, set string) map[string]manifest {
	t.Helper()
	out := run(t, helm, "template", "acct", chart, "--set", set)
	docs := map[string]manifest{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var m manifest
		if err := dec.Decode(&m); err != nil {
			break
		}
		if m.Kind != "" {
			docs[m.Kind] = m
		}
	}
	return docs
}

func TestHelmChart(t *testing.T) {
	skipShort(t, "runs helm lint and template")
	helm := tool(t, "helm", "go install helm.sh/helm/v3/cmd/helm@v3.16.4")
	withAccount := "smartassist.accountID=acc,smartassist.streamID=st,smartassist.clientID=cs,clientSecret=s3cret,serviceMonitor.enabled=true,prometheusRule.enabled=true"
	run(t, helm, "lint", "--strict", chart, "--set", withAccount)
	run(t, helm, "lint", "--strict", chart, "--set", "demo=true")

	docs := renderChart(t, helm, withAccount)
	for _, kind := range []string{"Deployment", "PersistentVolumeClaim", "Secret", "Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"} {
		if _, ok := docs[kind]; !ok {
			t.Errorf("no %s rendered", kind)
		}
	}
	dep := docs["Deployment"].Spec
	if dep["replicas"] != 1 || dep["strategy"].(map[string]any)["type"] != "Recreate" {
		t.Errorf("deployment must be one replica with Recreate: %v %v", dep["replicas"], dep["strategy"])
	}
	// Every rule of the files is in the PrometheusRule.
	want := 0
	for _, f := range []string{"prometheus/recording_rules.yml", "prometheus/alerts.yml"} {
		b, _ := os.ReadFile(f)
		want += strings.Count(string(b), "\n      - record:") + strings.Count(string(b), "\n      - alert:")
	}
	got := 0
	for _, g := range docs["PrometheusRule"].Spec["groups"].([]any) {
		got += len(g.(map[string]any)["rules"].([]any))
	}
	if got != want || want < 20 {
		t.Errorf("PrometheusRule holds %d rules, the files %d", got, want)
	}
	cm := docs["ConfigMap"]
	if len(cm.Data) != 7 || cm.Metadata.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboards ConfigMap: %d files, labels %v", len(cm.Data), cm.Metadata.Labels)
	}
	if strings.Contains(run(t, helm, "template", "acct", chart, "--set", withAccount), "s3cret\n") {
		// stringData holds it quoted; it must not leak elsewhere unquoted.
		t.Error("secret rendered outside the Secret")
	}
	// Live and capacity settings reach the environment only when given,
	// and a 0 is a setting, not "unset"; by default the exporter's own
	// defaults apply (the live interval then fits a small budget).
	for _, c := range []struct {
		set  string
		want []string
	}{
		{"", nil},
		{",live.interval=0,live.source=queue_size,capacity.shrinkage=0,capacity.serviceLevelSeconds=30",
			[]string{"SMARTASSIST_LIVE_INTERVAL=0", "SMARTASSIST_LIVE_SOURCE=queue_size", "SMARTASSIST_SHRINKAGE=0", "SMARTASSIST_SERVICE_LEVEL_SECONDS=30"}},
	} {
		var got []string
		for _, env := range deploymentEnv(t, renderChart(t, helm, withAccount+c.set)) {
			if strings.Contains(env, "LIVE") || strings.Contains(env, "SERVICE_LEVEL") || strings.Contains(env, "SHRINKAGE") ||
				strings.Contains(env, "OCCUPANCY") || strings.Contains(env, "CAPACITY") {
				got = append(got, env)
			}
		}
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("--set %q: live and capacity environment %v, want %v", c.set, got, want)
		}
	}
	// Without an account or the demo, rendering fails with a clear message.
	out, err := exec.Command(helm, "template", "acct", chart).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "set clientSecret or existingSecret (or demo: true)") {
		t.Errorf("rendering without credentials: %v\n%s", err, out)
	}
}

// deploymentEnv lists the exporter container's environment as NAME=value.
func deploymentEnv(t *testing.T, docs map[string]manifest) []string {
	t.Helper()
	var env []string
	template := docs["Deployment"].Spec["template"].(map[string]any)["spec"].(map[string]any)
	for _, c := range template["containers"].([]any) {
		for _, e := range c.(map[string]any)["env"].([]any) {
			m := e.(map[string]any)
			env = append(env, fmt.Sprintf("%v=%v", m["name"], m["value"]))
		}
	}
	return env
}

// TestComposeStack: every file the compose stack mounts exists, and the
// Prometheus and Alertmanager configurations are valid to their tools.
func TestComposeStack(t *testing.T) {
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Build   *struct{ Context, Dockerfile string } `yaml:"build"`
			Volumes []string                              `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"exporter", "prometheus", "alertmanager", "grafana"} {
		if _, ok := c.Services[svc]; !ok {
			t.Errorf("no %s service", svc)
		}
	}
	mounted := 0
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			host, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(host, ".") {
				continue // a named volume
			}
			mounted++
			if _, err := os.Stat(host); err != nil {
				t.Errorf("%s mounts %s: %v", name, host, err)
			}
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s builds from %s: %v", name, s.Build.Dockerfile, err)
			}
		}
	}
	if mounted < 10 {
		t.Errorf("only %d host files mounted", mounted)
	}
	if amtool, err := exec.LookPath("amtool"); err == nil {
		run(t, amtool, "check-config", "compose/alertmanager.yml")
	} else {
		t.Log("amtool not found (apt-get install prometheus-alertmanager): Alertmanager config not checked")
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		run(t, promtool, "check", "config", "--syntax-only", "compose/prometheus.yml")
	}
}

// TestStaticBinary builds the exporter as the Dockerfile does and checks it
// needs no dynamic loader (it runs on a distroless static image).
func TestStaticBinary(t *testing.T) {
	// A CGO_ENABLED=0 -trimpath build shares no build cache with go test:
	// minutes on a busy 2-core machine.
	skipShort(t, "rebuilds the exporter and its dependencies statically")
	bin := filepath.Join(t.TempDir(), "smartassist_exporter")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary asks for a dynamic loader")
		}
	}
	dockerfile, _ := os.ReadFile("Dockerfile")
	for _, want := range []string{"CGO_ENABLED=0", "USER 65532", "VOLUME /var/lib/smartassist_exporter", "HEALTHCHECK", "-healthcheck",
		"version.Version=${VERSION}", "version.Revision=${REVISION}", "version.BuildDate=${BUILD_DATE}"} {
		if !bytes.Contains(dockerfile, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
