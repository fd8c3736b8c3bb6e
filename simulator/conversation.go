package simulator

import (
	"encoding/json"
	"strings"
	"time"
)

// Conversation is one simulated conversation with its whole life: when the
// API starts listing it as open, when it lists it finished.
type Conversation struct {
	ID        string // conversationId; empty for bot-only sessions
	SessionID string
	Channel   string // as the platform writes it, stray spaces included
	Direction string // "Inbound", "Outbound" or "" (bot-only sessions)
	Status    string // finalStatus once finished: CLOSED, BotResolved
	Start     time.Time
	End       time.Time
	// OpenFrom is when the API starts listing the conversation as open
	// (TRANSIENT_OPEN); zero if it is never listed before it finishes.
	OpenFrom time.Time
	// FinishedFrom is when the API lists it finished: its end plus the
	// platform's reporting delay. Zero: not finished yet.
	FinishedFrom time.Time

	Destinations []Destination
	CSAT, NPS    *int
	Like         *int
	Dispositions []string
	Campaign     *Campaign
	// Style picks the API version's spellings: 0 the 2024 page (Reason,
	// customerinfo, isVoicemail "NO"), 1 the 2026 page (reason,
	// customerInfo, isVoicemail false, attempt "").
	Style int
	// Broken, when set, makes the record unusable in that way:
	// "no_id", "bad_start", "bad_type".
	Broken string

	hash uint64
}

// Destination is a QueueEntry or a top-level AgentSegment.
type Destination struct {
	Queue         bool
	QueueID       string
	QueueName     string
	Enter         time.Time
	Callback      bool
	Responding    *Segment
	NonResponding []Segment
	Agent         *Segment // the top-level AgentSegment
}

// Segment is one agent's part.
type Segment struct {
	AgentID          string
	Assigned         time.Time
	Accepted         time.Time
	FirstResponse    int // seconds; -1 absent
	Interaction      int // seconds
	Hold             int
	ACW              int // seconds; -1 absent
	Consults         []Consult
	NonResponseEvent string // for non-responding agents
}

// Consult is one consultation during a segment.
type Consult struct {
	Assigned, Accepted, End time.Time
}

// Campaign is an outbound campaign's info.
type Campaign struct {
	Name, Status string
	Attempt      int
}

// Key is the conversation's dedupe key, as the exporter computes it.
func (c *Conversation) Key() string {
	if c.ID != "" {
		return c.ID
	}
	return "session:" + c.SessionID
}

type listing int

const (
	notListed listing = iota
	listedOpen
	listedFinished
)

func (c *Conversation) stateAt(now time.Time) listing {
	switch {
	case !c.FinishedFrom.IsZero() && !now.Before(c.FinishedFrom):
		return listedFinished
	case !c.OpenFrom.IsZero() && !now.Before(c.OpenFrom):
		return listedOpen
	}
	return notListed
}

// Finished reports whether the API lists the conversation finished at now.
func (c *Conversation) Finished(now time.Time) bool { return c.stateAt(now) == listedFinished }

const localLayout = "2006-01-02T15:04:05"

// render writes the record as the API would at now, times in loc.
func (c *Conversation) render(now time.Time, loc *time.Location) json.RawMessage {
	open := c.stateAt(now) == listedOpen
	ts := func(t time.Time) string { return t.In(loc).Format(localLayout) }
	r := map[string]any{
		"sessionId":          c.SessionID,
		"channel":            c.Channel,
		"sessionStartTime":   ts(c.Start),
		"botId":              "st-7d1b1c52-0d2e-5a44-9d6e-3c1a2b4e5f60",
		"userId":             "u-" + c.SessionID,
		"smartStatus":        "CLOSED",
		"disconnectingEvent": map[bool]string{true: "Agent Closed", false: "System Hangup"}[len(c.Destinations) > 0],
		"metaInfo": map[string]any{
			"firstName": "Jane", "lastName": "Doe", "caller": "+15550100" + c.SessionID[len(c.SessionID)-3:],
			"agentTransferConfig": map[string]any{"overrideAgents": false, "lastIntentName": "ConnectToAgent"},
		},
	}
	reason, cust := "reason", "customerInfo"
	if c.Style == 0 {
		reason, cust = "Reason", "customerinfo"
	}
	r[reason] = ""
	// Customer details the exporter must never expose.
	r[cust] = map[string]any{
		"CustomerPhone": "+15550123456", "CenterPhone": "+15550000000",
		"CustomerFirstName": "Jane", "CustomerLastName": "Doe", "CustomerEmail": "jane.doe@example.com",
	}
	if c.ID != "" {
		r["conversationId"] = c.ID
		r["Direction"] = c.Direction
		if c.Style == 0 {
			r["isVoicemail"] = "NO"
		} else {
			r["isVoicemail"] = false
		}
		r["skills"] = []any{}
		r["userleveltags"] = []any{}
		r["sessionleveltags"] = []any{}
	} else {
		r["automationBotIDs"] = []string{"st-e5c6ae6b-c388-5acd-93b7-bada87a70001"}
		r["smartStatus"] = "CLOSED AT BOT"
	}
	if open {
		r["finalStatus"] = "TRANSIENT_OPEN"
		r["smartStatus"] = ""
		r["sessionEndTime"] = ts(c.Start)
	} else {
		r["finalStatus"] = c.Status
		r["sessionEndTime"] = ts(c.End)
		disp := c.Dispositions
		if disp == nil && c.ID != "" {
			disp = []string{}
		}
		if disp != nil {
			r["dispositions"] = disp
			remarks := make([]string, len(disp))
			for i := range remarks {
				remarks[i] = "-"
			}
			r["dispositionRemarks"] = remarks
		}
		if c.CSAT != nil {
			r["csatScore"], r["surveyType"] = *c.CSAT, "csat"
		}
		if c.NPS != nil {
			r["npsScore"], r["surveyType"] = *c.NPS, "nps"
		}
		if c.Like != nil {
			r["likeDislikeScore"], r["surveyType"] = *c.Like, "likeDislike"
		}
	}
	if c.ID != "" {
		dests := make([]any, 0, len(c.Destinations))
		for _, d := range c.Destinations {
			if open && !d.Queue {
				// Listed open: the agent's segment has no status yet.
				if d.Agent != nil {
					dests = append(dests, map[string]any{"agentId": d.Agent.AgentID, "destinationType": "AgentSegment",
						"agentNotes": []any{}, "assignedAt": ts(d.Agent.Assigned), "name": "Agent", "email": "agent@example.com"})
				}
				continue
			}
			dests = append(dests, d.render(ts, open))
		}
		r["destinations"] = dests
	}
	if c.Campaign != nil {
		ci := map[string]any{"campaignName": c.Campaign.Name, "contactStatus": c.Campaign.Status,
			"campaignId": "cd-" + c.SessionID, "contactListName": []string{"LIST A"}}
		if c.Style == 0 {
			ci["attempt"] = c.Campaign.Attempt
		} else {
			ci["attempt"] = ""
		}
		r["campaigninfo"] = ci
	} else if c.ID != "" && c.Style == 1 {
		// The 2026 API sends a campaigninfo without a campaign on inbound.
		r["campaigninfo"] = map[string]any{"attempt": "", "contactStatus": c.Status}
	}
	switch c.Broken {
	case "no_id":
		delete(r, "conversationId")
		delete(r, "sessionId")
	case "bad_start":
		r["sessionStartTime"] = "yesterday-ish"
	case "bad_type":
		r["destinations"] = map[string]any{"oops": true}
	}
	b, _ := json.Marshal(r)
	return b
}

func (d *Destination) render(ts func(time.Time) string, open bool) map[string]any {
	if !d.Queue {
		return d.Agent.render(ts, true)
	}
	m := map[string]any{
		"destinationType": "QueueEntry", "queueId": d.QueueID, "queueName": d.QueueName,
		"EnterTime": ts(d.Enter), "CallbackOpted": d.Callback,
	}
	if d.Callback {
		m["CallbackOptedTime"] = d.Enter.Add(5 * time.Second).UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if d.Responding != nil && !open {
		m["respondingAgent"] = d.Responding.render(ts, true)
	}
	if len(d.NonResponding) > 0 {
		var nr []any
		for _, s := range d.NonResponding {
			nr = append(nr, s.render(ts, false))
		}
		m["nonRespondingAgents"] = nr
	}
	return m
}

func (s *Segment) render(ts func(time.Time) string, answered bool) map[string]any {
	m := map[string]any{
		"agentId": s.AgentID, "destinationType": "AgentSegment", "assignedAt": ts(s.Assigned),
		"agentNotes": []string{"The customer asked about their bill."},
		"name":       "Agent " + strings.ToUpper(s.AgentID[len(s.AgentID)-2:]), "email": "agent." + s.AgentID[len(s.AgentID)-4:] + "@example.com",
	}
	if !answered {
		if s.NonResponseEvent != "" {
			m["nonResponseEvent"] = s.NonResponseEvent
		}
		return m
	}
	m["status"] = "Answered"
	m["acceptedTime"] = ts(s.Accepted)
	if s.FirstResponse >= 0 {
		m["firstResponseDuration"] = s.FirstResponse
		m["firstResponseTime"] = ts(s.Accepted.Add(time.Duration(s.FirstResponse) * time.Second))
	}
	end := s.Accepted.Add(time.Duration(s.Interaction) * time.Second)
	m["interactionDuration"] = s.Interaction
	m["interactionEndTime"] = ts(end)
	if s.Hold > 0 {
		m["holdDuration"] = s.Hold
	}
	if s.ACW >= 0 {
		m["afterCallWorkDuration"] = s.ACW
		m["afterCallWorkEndTime"] = ts(end.Add(time.Duration(s.ACW) * time.Second))
	}
	consults := []any{}
	for _, c := range s.Consults {
		consults = append(consults, map[string]any{"name": "+15550199999", "assignedAt": ts(c.Assigned),
			"acceptedTime": ts(c.Accepted), "consultingEndTime": ts(c.End)})
	}
	m["ConsultingAgents"] = consults
	m["JoinedUsers"] = []any{}
	return m
}
