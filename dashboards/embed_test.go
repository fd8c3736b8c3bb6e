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
