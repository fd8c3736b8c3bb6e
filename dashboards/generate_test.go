package dashboards

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedAndSchemaChecked regenerates the dashboards (and the chart's
// copies of dashboards and rules) into a temporary folder, fails if any
// committed file differs, and type-checks every dashboard against
// @grafana/schema with tsc.
func TestGeneratedAndSchemaChecked(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the generator runs Node.js (npm run); the full suite checks the committed JSON")
	}
	if _, err := os.Stat("node_modules/@grafana/grafana-foundation-sdk"); err != nil {
		t.Skip("dashboards/node_modules missing: cd dashboards && npm ci (.ci/run does)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm not found: install Node.js (.ci/run's machine has it)")
	}
	out := t.TempDir()
	cmd := exec.Command(npm, "run", "--silent", "generate")
	cmd.Env = append(os.Environ(), "GENERATE_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm run generate: %v\n%s", err, b)
	}
	compare := func(generated, committed string) {
		a, err1 := os.ReadFile(generated)
		b, err2 := os.ReadFile(committed)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s is not what the generator writes: run `npm run generate` in dashboards/ and commit (%v %v)", committed, err1, err2)
		}
	}
	gen, _ := filepath.Glob(filepath.Join(out, "dashboards", "*.json"))
	if len(gen) != 7 {
		t.Fatalf("generator wrote %d dashboards", len(gen))
	}
	for _, g := range gen {
		compare(g, filepath.Base(g))
		compare(filepath.Join(out, "chart", "dashboards", filepath.Base(g)), filepath.Join("..", "deploy", "helm", "smartassist-exporter", "files", "dashboards", filepath.Base(g)))
	}
	rules, _ := filepath.Glob(filepath.Join(out, "chart", "rules", "*.yml"))
	for _, r := range rules {
		compare(r, filepath.Join("..", "deploy", "helm", "smartassist-exporter", "files", "rules", filepath.Base(r)))
	}
	if b, err := exec.Command(npm, "run", "--silent", "check").CombinedOutput(); err != nil {
		t.Errorf("dashboards do not type-check against @grafana/schema: %v\n%s", err, b)
	}
}
