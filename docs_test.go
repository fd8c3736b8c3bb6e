package main

// The documents and deployment files quote values the code defines once
// (config's defaults and limits, the metric namespace, the listen port):
// these tests fail when one of them drifts from the code.

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/smartassist-exporter/smartassist_exporter/config"
	"github.com/smartassist-exporter/smartassist_exporter/naming"
)

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clearEnv unsets every SMARTASSIST_* variable for the test.
func clearEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, config.Prefix+"_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// TestREADMEConfiguration: every variable config reads is in the README,
// and every default the README's tables give in backticks is the one Parse
// fills in (the README's value, set explicitly, parses to the default).
func TestREADMEConfiguration(t *testing.T) {
	readme := readDoc(t, "README.md")
	clearEnv(t)
	defaults, err := config.Parse()
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeFor[config.Config]()
	fields := map[string]int{}
	for i := range typ.NumField() {
		name := typ.Field(i).Tag.Get("envconfig")
		if name == "" {
			continue
		}
		fields[config.Var(name)] = i
		if !strings.Contains(readme, config.Var(name)) && !strings.Contains(readme, "`_"+name+"`") {
			t.Errorf("README does not document %s", config.Var(name))
		}
	}
	row := regexp.MustCompile("(?m)^\\| `(SMARTASSIST_[A-Z0-9_]+)` \\|.*\\| `([^`]*)`[^|]*\\|$")
	checked := 0
	for _, m := range row.FindAllStringSubmatch(readme, -1) {
		variable, documented := m[1], m[2]
		i, ok := fields[variable]
		if !ok {
			continue // another table's variable (OTEL_*, a demo setting)
		}
		t.Setenv(variable, documented)
		c, err := config.Parse()
		if err != nil {
			t.Errorf("README's default of %s, %q, does not parse: %v", variable, documented, err)
			continue
		}
		got, want := reflect.ValueOf(*c).Field(i).Interface(), reflect.ValueOf(*defaults).Field(i).Interface()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("README gives %s the default %q; the code's is %v", variable, documented, want)
		}
		os.Unsetenv(variable)
		checked++
	}
	if checked < 13 {
		t.Errorf("only %d defaults found in the README's table", checked)
	}
	if want := "`1m`–`" + strings.TrimSuffix(strings.TrimSuffix(config.MaxLookback.String(), "0s"), "0m") + "`"; !strings.Contains(readme, want) {
		t.Errorf("README does not give the lookback's range as %s", want)
	}
}

// TestDeployListenPort: the Dockerfile, compose stack and chart use the
// default listen port.
func TestDeployListenPort(t *testing.T) {
	port := strings.TrimPrefix(config.DefaultListenAddress, ":")
	for path, want := range map[string][]string{
		"deploy/Dockerfile":                            {"SMARTASSIST_LISTEN_ADDRESS=" + config.DefaultListenAddress, "EXPOSE " + port},
		"deploy/docker-compose.yml":                    {port + ":" + port},
		"deploy/compose/prometheus.yml":                {"exporter:" + port},
		"deploy/helm/smartassist-exporter/values.yaml": {"port: " + port},
		"README.md": {"localhost:" + port + "/metrics"},
	} {
		doc := readDoc(t, path)
		for _, w := range want {
			if !strings.Contains(doc, w) {
				t.Errorf("%s lacks %q (the default listen address is %s)", path, w, config.DefaultListenAddress)
			}
		}
	}
}

// TestMetricsDocNamespace: every metric METRICS.md lists is in the one
// namespace.
func TestMetricsDocNamespace(t *testing.T) {
	names := regexp.MustCompile("(?m)^\\| `([a-z_:]+)").FindAllStringSubmatch(readDoc(t, "METRICS.md"), -1)
	if len(names) < 20 {
		t.Fatalf("only %d metrics in METRICS.md's tables", len(names))
	}
	for _, m := range names {
		if !strings.HasPrefix(m[1], naming.Namespace+"_") {
			t.Errorf("METRICS.md lists %s, outside the namespace %s_", m[1], naming.Namespace)
		}
	}
}
