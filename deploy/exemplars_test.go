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

// TestHelmExemplars: the chart passes the exemplar settings to the
// exporter and, when asked, renders a Grafana datasource whose exemplar
// link is made from exemplars.conversationURL; a template without the
// placeholder fails the render with a clear message.
func TestHelmExemplars(t *testing.T) {
	helm := tool(t, "helm", "go install helm.sh/helm/v3/cmd/helm@v3.16.4")
	set := "demo=true,exemplars.enabled=true,exemplars.grafanaDatasource.enabled=true"
	url := "exemplars.conversationURL=https://cc.example.com/c/{{conversation_id}}"
	run(t, helm, "lint", "--strict", chart, "--set", set, "--set", url)
	out := run(t, helm, "template", "acct", chart, "--set", set, "--set", url)
	var env map[string]string
	var ds grafanaDatasources
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var m struct {
			Kind     string                             `yaml:"kind"`
			Metadata struct{ Labels map[string]string } `yaml:"metadata"`
			Data     map[string]string                  `yaml:"data"`
			Spec     struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Env []struct{ Name, Value string } `yaml:"env"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&m); err != nil {
			break
		}
		switch {
		case m.Kind == "Deployment":
			env = map[string]string{}
			for _, e := range m.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = e.Value
			}
		case m.Kind == "ConfigMap" && m.Metadata.Labels["grafana_datasource"] == "1":
			if err := yaml.Unmarshal([]byte(m.Data["smartassist-datasource.yaml"]), &ds); err != nil {
				t.Fatal(err)
			}
		}
	}
	if env["SMARTASSIST_EXEMPLARS"] != "true" || env["SMARTASSIST_NATIVE_HISTOGRAMS"] != "false" ||
		env["SMARTASSIST_CONVERSATION_URL"] != "https://cc.example.com/c/{{conversation_id}}" {
		t.Errorf("exporter environment %v", env)
	}
	if len(ds.Datasources) != 1 || len(ds.Datasources[0].JSONData.Destinations) != 1 ||
		ds.Datasources[0].JSONData.Destinations[0].URL != "https://cc.example.com/c/$${__value.raw}" ||
		ds.Datasources[0].JSONData.Destinations[0].Name != "conversation_id" {
		t.Errorf("Grafana datasource %+v", ds)
	}
	bad, err := exec.Command(helm, "template", "acct", chart, "--set", set, "--set", "exemplars.conversationURL=https://cc.example.com/c/").CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "exemplars.conversationURL must hold {{conversation_id}}") {
		t.Errorf("a template without the placeholder: %v\n%s", err, bad)
	}
}
