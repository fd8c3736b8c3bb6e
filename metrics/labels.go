package metrics

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// OtherValue replaces label values past a label's cap.
const OtherValue = "other"

// maxLabelLength bounds one label value: upstream text such as a
// disposition could otherwise be a paragraph.
const maxLabelLength = 100

// labelCap bounds the values of one label taken from upstream text: the
// first max distinct values are kept, later new ones become "other" and are
// counted. The set starts empty at every start of the exporter.
type labelCap struct {
	name   string
	max    int
	folded prometheus.Counter

	mu   sync.Mutex
	seen map[string]struct{}
}

func newLabelCap(name string, max int, folded *prometheus.CounterVec) *labelCap {
	return &labelCap{name: name, max: max, folded: folded.WithLabelValues(name), seen: map[string]struct{}{}}
}

// value returns the label value to use for v.
func (l *labelCap) value(v string) string {
	v = cleanLabel(v)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[v]; ok {
		return v
	}
	if len(l.seen) >= l.max {
		l.folded.Inc()
		return OtherValue
	}
	l.seen[v] = struct{}{}
	return v
}

// cleanLabel trims, folds runs of white space, replaces invalid UTF-8 and
// shortens a value; empty becomes "unknown".
func cleanLabel(v string) string {
	v = strings.Join(strings.Fields(strings.ToValidUTF8(v, "\uFFFD")), " ")
	if v == "" {
		return unknownValue
	}
	if len(v) > maxLabelLength {
		cut := maxLabelLength
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	return v
}

// CleanLabel is the label value the metric families make of upstream text
// (trimmed, white space folded, valid UTF-8, at most 100 bytes, "unknown"
// when empty). Other sources (the live collector) use it so that their
// queue label joins the call-details families' in PromQL.
func CleanLabel(v string) string { return cleanLabel(v) }
