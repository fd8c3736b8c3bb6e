package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type grafanaDatasources struct {
	Datasources []struct {
		Name     string `yaml:"name"`
		URL      string `yaml:"url"`
		JSONData struct {
			Destinations []struct {
				Name string `yaml:"name"`
				URL  string `yaml:"url"`
			} `yaml:"exemplarTraceIdDestinations"`
		} `yaml:"jsonData"`
	} `yaml:"datasources"`
}

// TestComposeGrafanaDatasource runs the compose stack's Grafana entrypoint
// with sh: it writes the Prometheus datasource, with the exemplar link
// made from SMARTASSIST_CONVERSATION_URL ({{conversation_id}} becomes
// Grafana's ${__value.raw}, written $${…} because provisioning files expand
// environment variables), then runs the command it was given.
func TestComposeGrafanaDatasource(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, tc := range []struct {
		name, url, wantLink, wantStderr string
	}{
		{"no link", "", "", ""},
		{"link", "https://cc.example.com/c/{{conversation_id}}?tab=a&b=c", "https://cc.example.com/c/$${__value.raw}?tab=a&b=c", ""},
		{"quote and pipe", "https://cc.example.com/it's|{{conversation_id}}", "https://cc.example.com/it's|$${__value.raw}", ""},
		{"no placeholder", "https://cc.example.com/c/", "", "must hold {{conversation_id}}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			marker := filepath.Join(dir, "started")
			cmd := exec.Command(sh, filepath.Join("compose", "grafana", "provision-datasource.sh"), "touch", marker)
			cmd.Env = append(os.Environ(), "GF_PATHS_PROVISIONING="+dir, "SMARTASSIST_CONVERSATION_URL="+tc.url)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			if _, err := os.Stat(marker); err != nil {
				t.Error("the script did not run Grafana's command")
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) || (tc.wantStderr == "" && stderr.Len() > 0) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantStderr)
			}
			b, err := os.ReadFile(filepath.Join(dir, "datasources", "prometheus.yml"))
			if err != nil {
				t.Fatal(err)
			}
			var ds grafanaDatasources
			if err := yaml.Unmarshal(b, &ds); err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if len(ds.Datasources) != 1 || ds.Datasources[0].URL != "http://prometheus:9090" {
				t.Fatalf("datasources %+v", ds)
			}
			dests := ds.Datasources[0].JSONData.Destinations
			switch {
			case tc.wantLink == "" && len(dests) != 0:
				t.Errorf("exemplar link without a usable template: %+v", dests)
			case tc.wantLink != "" && (len(dests) != 1 || dests[0].Name != "conversation_id" || dests[0].URL != tc.wantLink):
				t.Errorf("exemplar destinations %+v, want conversation_id -> %s", dests, tc.wantLink)
			}
		})
	}
}
