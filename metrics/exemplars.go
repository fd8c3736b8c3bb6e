package metrics

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/conversation"
)

// ExemplarLabel is the one exemplar label the exporter sets: the
// conversation's id, so that a dot on a duration graph leads to the
// conversation. Nothing else (no agent, customer or phone number) is ever
// put in an exemplar.
const ExemplarLabel = "conversation_id"

// maxExemplarIDRunes is what the OpenMetrics limit of 128 runes for an
// exemplar's label names and values together leaves for the id.
var maxExemplarIDRunes = prometheus.ExemplarMaxRunes - utf8.RuneCountInString(ExemplarLabel)

// Exemplar returns the exemplar labels of a conversation, or nil when it has
// no id fit for one: bot-only sessions (no conversationId), ids longer than
// the exemplar limit, and ids with characters outside [A-Za-z0-9-_.:]. Real
// ids ("c-185d9c5-9ac3-…") are well inside both; anything else is upstream
// noise that could break a Grafana link, so it is skipped rather than
// escaped. client_golang panics on an over-long exemplar: this check is what
// keeps a hostile id from reaching it.
func Exemplar(c *conversation.Conversation) prometheus.Labels {
	id := strings.TrimSpace(string(c.ConversationID))
	if !validExemplarID(id) {
		return nil
	}
	return prometheus.Labels{ExemplarLabel: id}
}

func validExemplarID(id string) bool {
	// The charset is ASCII, so bytes are runes here.
	if id == "" || len(id) > maxExemplarIDRunes {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_', b == '.', b == ':':
		default:
			return false
		}
	}
	return true
}

// observeExemplar observes v with the exemplar ex when there is one.
// client_golang stamps a histogram exemplar with the time of the
// observation (its clock is not settable from outside the package), that is
// when the exporter counted the conversation: the same scrape interval in
// which the bucket grows, so Grafana draws the dot where the spike is.
func observeExemplar(o prometheus.Observer, v float64, ex prometheus.Labels) {
	if ex != nil {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, ex)
			return
		}
	}
	o.Observe(v)
}
