package dashboards

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// conversationBuckets are the duration histograms whose observations carry
// {conversation_id} exemplars (SMARTASSIST_EXEMPLARS=true).
var conversationBuckets = regexp.MustCompile(`smartassist_(conversation_duration|first_response|interaction|hold|after_call_work|handle|queue_wait|consult)_seconds_bucket`)

// TestExemplarsOnDurationPanels: every quantile time series and bucket
// heatmap of a conversation duration histogram asks for exemplars, and no
// other target does (an exemplar's seconds on a ratio axis would mislead).
func TestExemplarsOnDurationPanels(t *testing.T) {
	withExemplars := 0
	for _, name := range []string{"overview.json", "queues.json", "capacity.json", "customer-experience.json", "agents.json", "exporter.json"} {
		b, err := Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string `json:"title"`
				Type    string `json:"type"`
				Targets []struct {
					Expr     string `json:"expr"`
					Exemplar bool   `json:"exemplar"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				want := conversationBuckets.MatchString(tg.Expr) &&
					((p.Type == "timeseries" && strings.HasPrefix(tg.Expr, "histogram_quantile(")) || p.Type == "heatmap")
				if tg.Exemplar != want {
					t.Errorf("%s %q (%s): exemplar %v, want %v: %s", name, p.Title, p.Type, tg.Exemplar, want, tg.Expr)
				}
				if tg.Exemplar {
					withExemplars++
				}
			}
		}
	}
	if withExemplars < 5 {
		t.Errorf("only %d targets show exemplars", withExemplars)
	}
}
