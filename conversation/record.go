// Package conversation is the shape of one record of SmartAssist's "Get All
// Conversations Data – Call Details" API and its lenient decoder. It is shared
// by the collector (which reads and dedupes records), the metrics layer (which
// derives observations from finished ones) and the simulator (which serves
// them). Only the fields the exporter uses are decoded: customer details,
// notes, agent names and e-mails are never read into memory as fields.
package conversation

import (
	"strings"
	"time"
)

// Conversation is one record of the call-details API.
type Conversation struct {
	ConversationID Text   `json:"conversationId"`
	SessionID      Text   `json:"sessionId"`
	Channel        Text   `json:"channel"`
	Direction      Text   `json:"Direction"`
	FinalStatus    Text   `json:"finalStatus"`
	IsVoicemail    Bool   `json:"isVoicemail"`
	StartTime      Time   `json:"sessionStartTime"`
	EndTime        Time   `json:"sessionEndTime"`
	Dispositions   Texts  `json:"dispositions"`
	CSATScore      Number `json:"csatScore"`
	NPSScore       Number `json:"npsScore"`
	LikeDislike    Number `json:"likeDislikeScore"`
	SurveyType     Text   `json:"surveyType"`
	// Destinations are the queues and agents the conversation went through,
	// in the order it went through them.
	Destinations []Destination `json:"destinations"`
	Campaign     *Campaign     `json:"campaigninfo"`

	// Set by the decoder: the zone the platform wrote zone-less times in
	// (the request's timeZoneOffset), and the parsed session times.
	Loc   *time.Location `json:"-"`
	Start time.Time      `json:"-"`
	End   time.Time      `json:"-"` // zero when absent or unparseable
}

// Segment is one agent's part of a conversation: a QueueEntry's
// respondingAgent, an entry of its nonRespondingAgents, or a top-level
// AgentSegment destination.
type Segment struct {
	AgentID               Text      `json:"agentId"`
	DestinationType       Text      `json:"destinationType"`
	Status                Text      `json:"status"`
	FirstResponseDuration Number    `json:"firstResponseDuration"`
	InteractionDuration   Number    `json:"interactionDuration"`
	HoldDuration          Number    `json:"holdDuration"`
	AfterCallWorkDuration Number    `json:"afterCallWorkDuration"`
	AssignedAt            Time      `json:"assignedAt"`
	AcceptedTime          Time      `json:"acceptedTime"`
	FirstResponseTime     Time      `json:"firstResponseTime"`
	InteractionEndTime    Time      `json:"interactionEndTime"`
	AfterCallWorkEndTime  Time      `json:"afterCallWorkEndTime"`
	ConsultingAgents      []Consult `json:"ConsultingAgents"`
	NonResponseEvent      Text      `json:"nonResponseEvent"`
}

// Destination is one element of destinations: a QueueEntry (with its
// responding and non-responding agents) or a direct AgentSegment, whose
// fields are those of the embedded Segment.
type Destination struct {
	Segment
	QueueID             Text      `json:"queueId"`
	QueueName           Text      `json:"queueName"`
	CallbackOpted       Bool      `json:"CallbackOpted"`
	EnterTime           Time      `json:"EnterTime"`
	RespondingAgent     *Segment  `json:"respondingAgent"`
	NonRespondingAgents []Segment `json:"nonRespondingAgents"`
}

// Consult is a ConsultingAgents entry. The consulted party's name (often a
// phone number) is deliberately not decoded.
type Consult struct {
	AssignedAt        Time `json:"assignedAt"`
	AcceptedTime      Time `json:"acceptedTime"`
	ConsultingEndTime Time `json:"consultingEndTime"`
}

// Campaign is campaigninfo, present on outbound campaign calls.
type Campaign struct {
	CampaignName  Text   `json:"campaignName"`
	CampaignID    Text   `json:"campaignId"`
	Attempt       Number `json:"attempt"`
	ContactStatus Text   `json:"contactStatus"`
}

// Destination types, compared case-insensitively.
const (
	TypeQueueEntry   = "QueueEntry"
	TypeAgentSegment = "AgentSegment"
)

// IsQueueEntry reports whether the destination is a queue.
func (d *Destination) IsQueueEntry() bool {
	return strings.EqualFold(strings.TrimSpace(string(d.DestinationType)), TypeQueueEntry)
}

// IsAnsweredAgentSegment reports whether the destination is a direct agent
// segment with status Answered.
func (d *Destination) IsAnsweredAgentSegment() bool {
	return strings.EqualFold(strings.TrimSpace(string(d.DestinationType)), TypeAgentSegment) &&
		strings.EqualFold(strings.TrimSpace(string(d.Status)), "Answered")
}

// Key identifies the conversation for deduplication: its conversationId, or
// for bot-only sessions, which have none, its sessionId. Empty when the
// record has neither.
func (c *Conversation) Key() string {
	if id := strings.TrimSpace(string(c.ConversationID)); id != "" {
		return id
	}
	if id := strings.TrimSpace(string(c.SessionID)); id != "" {
		return "session:" + id
	}
	return ""
}

// openMarkers are words in finalStatus that mean the conversation is still
// going on: the platform lists conversations before they finish, with
// finalStatus TRANSIENT_OPEN and segments without a status.
var openMarkers = []string{"OPEN", "TRANSIENT", "ACTIVE", "PROGRESS", "WAITING", "QUEUED"}

// Finished reports whether the platform says the conversation is over.
// A record with no finalStatus is not yet finished.
func (c *Conversation) Finished() bool {
	s := strings.ToUpper(strings.TrimSpace(string(c.FinalStatus)))
	if s == "" {
		return false
	}
	for _, m := range openMarkers {
		if strings.Contains(s, m) {
			return false
		}
	}
	return true
}

// ChannelName is the channel with the stray spaces the platform adds
// ("Jones ") trimmed; "unknown" when absent.
func (c *Conversation) ChannelName() string {
	if ch := strings.TrimSpace(string(c.Channel)); ch != "" {
		return ch
	}
	return "unknown"
}

// DirectionName is "inbound", "outbound" or "unknown".
func (c *Conversation) DirectionName() string {
	switch strings.ToLower(strings.TrimSpace(string(c.Direction))) {
	case "inbound":
		return "inbound"
	case "outbound":
		return "outbound"
	}
	return "unknown"
}

// Status is finalStatus as given, trimmed; "unknown" when absent.
func (c *Conversation) Status() string {
	if s := strings.TrimSpace(string(c.FinalStatus)); s != "" {
		return s
	}
	return "unknown"
}

// ParseTime reads one of the record's timestamps: a zone-less time is in
// the record's local zone.
func (c *Conversation) ParseTime(t Time) (time.Time, bool) {
	loc := c.Loc
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc)
}
