package conversation

// Decode throughput, every contender on the same realistic pages in one
// run, so that the ratios are one command:
//
//	go test ./conversation -run XXX -bench . -benchtime 2s -count 3
//
// The pages are 100-record pages as the simulator serves them: both API
// versions' spellings, customer details present and ignored, open and
// finished records, three time zones.

import (
	"encoding/json"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
)

// plainPage is the baseline shape: the same fields as Conversation, in
// plain Go types. A field whose type varies between the API versions
// (isVoicemail "NO"/false, attempt ""/2) is an any, so both libraries decode
// every page without error; nothing is parsed beyond what the library does
// (times stay strings, numbers as strings stay strings). It is what a
// decoder without leniency costs, not a usable result.
type plainPage struct {
	NumResults int           `json:"numResults"`
	Data       []plainRecord `json:"data"`
}

type plainRecord struct {
	ConversationID string             `json:"conversationId"`
	SessionID      string             `json:"sessionId"`
	Channel        string             `json:"channel"`
	Direction      string             `json:"Direction"`
	FinalStatus    string             `json:"finalStatus"`
	IsVoicemail    any                `json:"isVoicemail"`
	StartTime      string             `json:"sessionStartTime"`
	EndTime        string             `json:"sessionEndTime"`
	Dispositions   []string           `json:"dispositions"`
	CSATScore      *float64           `json:"csatScore"`
	NPSScore       *float64           `json:"npsScore"`
	LikeDislike    *float64           `json:"likeDislikeScore"`
	SurveyType     string             `json:"surveyType"`
	Destinations   []plainDestination `json:"destinations"`
	Campaign       *struct {
		CampaignName  string `json:"campaignName"`
		CampaignID    string `json:"campaignId"`
		Attempt       any    `json:"attempt"`
		ContactStatus string `json:"contactStatus"`
	} `json:"campaigninfo"`
}

type plainSegment struct {
	AgentID               string   `json:"agentId"`
	DestinationType       string   `json:"destinationType"`
	Status                string   `json:"status"`
	FirstResponseDuration *float64 `json:"firstResponseDuration"`
	InteractionDuration   *float64 `json:"interactionDuration"`
	HoldDuration          *float64 `json:"holdDuration"`
	AfterCallWorkDuration *float64 `json:"afterCallWorkDuration"`
	AssignedAt            string   `json:"assignedAt"`
	AcceptedTime          string   `json:"acceptedTime"`
	FirstResponseTime     string   `json:"firstResponseTime"`
	InteractionEndTime    string   `json:"interactionEndTime"`
	AfterCallWorkEndTime  string   `json:"afterCallWorkEndTime"`
	ConsultingAgents      []struct {
		AssignedAt        string `json:"assignedAt"`
		AcceptedTime      string `json:"acceptedTime"`
		ConsultingEndTime string `json:"consultingEndTime"`
	} `json:"ConsultingAgents"`
	NonResponseEvent string `json:"nonResponseEvent"`
}

type plainDestination struct {
	plainSegment
	QueueID             string         `json:"queueId"`
	QueueName           string         `json:"queueName"`
	CallbackOpted       bool           `json:"CallbackOpted"`
	EnterTime           string         `json:"EnterTime"`
	RespondingAgent     *plainSegment  `json:"respondingAgent"`
	NonRespondingAgents []plainSegment `json:"nonRespondingAgents"`
}

const benchPages = 9

// benchDecode runs decode over the pages in turn and reports records/s.
func benchDecode(b *testing.B, decode func(body []byte, loc *time.Location) int) {
	pages := realisticPages(b, benchPages)
	var size int
	for _, p := range pages {
		if n := decode(p.body, p.loc); n != 100 {
			b.Fatalf("%s: decoded %d records, want 100", p.name, n)
		}
		size += len(p.body)
	}
	b.SetBytes(int64(size / len(pages)))
	b.ReportAllocs()
	b.ResetTimer()
	records := 0
	for i := 0; i < b.N; i++ {
		p := &pages[i%len(pages)]
		records += decode(p.body, p.loc)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// decoders are the contenders, each returning the records it decoded.
func decoders(b *testing.B) []struct {
	name   string
	decode func(body []byte, loc *time.Location) int
} {
	return []struct {
		name   string
		decode func(body []byte, loc *time.Location) int
	}{
		{"reference", func(body []byte, loc *time.Location) int {
			p, err := refDecodePage(body, loc)
			if err != nil {
				b.Fatal(err)
			}
			return len(p.Records)
		}},
		{"plain-encoding-json", func(body []byte, _ *time.Location) int {
			var p plainPage
			if err := json.Unmarshal(body, &p); err != nil {
				b.Fatal(err)
			}
			return len(p.Data)
		}},
		{"plain-goccy-go-json", func(body []byte, _ *time.Location) int {
			var p plainPage
			if err := gojson.Unmarshal(body, &p); err != nil {
				b.Fatal(err)
			}
			return len(p.Data)
		}},
		{"DecodePage", func(body []byte, loc *time.Location) int {
			p, err := DecodePage(body, loc)
			if err != nil {
				b.Fatal(err)
			}
			return len(p.Records)
		}},
	}
}

// BenchmarkDecode/reference is the decoder before this change (a copy in
// reference_test.go); DecodePage is the one-pass decoder with the same
// results; the plain-* baselines decode the same fields without leniency.
func BenchmarkDecode(b *testing.B) {
	for _, d := range decoders(b) {
		b.Run(d.name, func(b *testing.B) { benchDecode(b, d.decode) })
	}
}

// BenchmarkDecodeRatio decodes each page with every contender in turn and
// times each call, so that a machine whose load changes during the run
// (this one is shared) slows them all alike: the ratios it reports
// (DecodePage's speed over each other's) are the figures to compare.
func BenchmarkDecodeRatio(b *testing.B) {
	pages := realisticPages(b, benchPages)
	ds := decoders(b)
	spent := make([]time.Duration, len(ds))
	records := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &pages[i%len(pages)]
		for k, d := range ds {
			t0 := time.Now()
			n := d.decode(p.body, p.loc)
			spent[k] += time.Since(t0)
			if k == 0 {
				records += n
			}
		}
	}
	last := len(ds) - 1 // DecodePage
	for k, d := range ds {
		b.ReportMetric(float64(records)/spent[k].Seconds(), d.name+"-records/s")
		if k != last {
			b.ReportMetric(spent[k].Seconds()/spent[last].Seconds(), "DecodePage-speedup-over-"+d.name)
		}
	}
}

// BenchmarkTimeIn: a zone-less platform timestamp, parsed by the previous
// layouts loop and by Time.In's hand parser.
func BenchmarkTimeIn(b *testing.B) {
	loc := ZoneForOffset(300)
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok := (refTime{Raw: "2026-03-10T08:53:37"}).In(loc); !ok {
				b.Fatal("not parsed")
			}
		}
	})
	b.Run("Time.In", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok := (Time{Raw: "2026-03-10T08:53:37"}).In(loc); !ok {
				b.Fatal("not parsed")
			}
		}
	})
}
