package dashboards

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEverythingEmbedded: every generated dashboard in this folder is
// embedded, and each is JSON with a uid and a title.
func TestEverythingEmbedded(t *testing.T) {
	onDisk, _ := filepath.Glob("*.json")
	embedded, err := fs.Glob(Files, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, f := range onDisk {
		if !strings.HasPrefix(f, "package") && !strings.HasPrefix(f, "tsconfig") {
			want[f] = true
		}
	}
	if len(embedded) != len(want) {
		t.Errorf("embedded %v, generated %v", embedded, want)
	}
	for _, f := range embedded {
		b, _ := Files.ReadFile(f)
		disk, _ := os.ReadFile(f)
		if string(b) != string(disk) {
			t.Errorf("%s: embedded copy differs", f)
		}
		var d struct {
			UID, Title string
			Panels     []json.RawMessage
		}
		if err := json.Unmarshal(b, &d); err != nil || d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("%s: uid %q title %q, %d panels, %v", f, d.UID, d.Title, len(d.Panels), err)
		}
	}
}

// TestEveryPanelHasUnitAndDescription, and every dashboard the variables
// users filter by.
func TestEveryPanelHasUnitAndDescription(t *testing.T) {
	files, _ := fs.Glob(Files, "*.json")
	for _, f := range files {
		b, _ := Files.ReadFile(f)
		var d struct {
			Panels []struct {
				Type, Title, Description string
				FieldConfig              struct {
					Defaults struct{ Unit string }
				}
				Targets []json.RawMessage
			}
			Templating struct {
				List []struct{ Name string }
			}
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		vars := map[string]bool{}
		for _, v := range d.Templating.List {
			vars[v.Name] = true
		}
		for _, v := range []string{"datasource", "job", "instance"} {
			if !vars[v] {
				t.Errorf("%s: no $%s variable", f, v)
			}
		}
		for _, p := range d.Panels {
			if p.Type == "row" {
				continue
			}
			if p.Description == "" || p.FieldConfig.Defaults.Unit == "" || len(p.Targets) == 0 {
				t.Errorf("%s / %s: description %q, unit %q, %d queries", f, p.Title, p.Description, p.FieldConfig.Defaults.Unit, len(p.Targets))
			}
		}
	}
}
