// Package config reads the exporter's settings from SMARTASSIST_* environment
// variables. The variable names are a public interface: deployment files and
// users depend on them. Every problem is reported as one line naming the
// variable and what it accepts.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/smartassist-exporter/smartassist_exporter/capacity"
	"github.com/smartassist-exporter/smartassist_exporter/collector"
	"github.com/smartassist-exporter/smartassist_exporter/live"
)

// Prefix of every variable.
const Prefix = "SMARTASSIST"

// Limits the platform imposes or that keep the exporter sane. The API's
// longest query range is collector.MaxWindow, defined there once.
const (
	MaxLookback     = collector.MaxWindow
	MinPollInterval = time.Second
)

// DefaultListenAddress is outside 9100-9999, the range of Prometheus's
// registry of exporter ports, which is fully allocated. It is the one
// definition: Parse fills it in, and the deployment files' tests read it.
const DefaultListenAddress = ":10117"

// Config is every setting. Field tags give the variable (after the prefix)
// and its default.
type Config struct {
	BaseURL          string `envconfig:"BASE_URL"`
	AccountID        string `envconfig:"ACCOUNT_ID"`
	StreamID         string `envconfig:"STREAM_ID"`
	ClientID         string `envconfig:"CLIENT_ID"`
	ClientSecret     Secret `envconfig:"CLIENT_SECRET"`
	ClientSecretFile string `envconfig:"CLIENT_SECRET_FILE"`
	Token            Secret `envconfig:"TOKEN"`
	Endpoint         string `envconfig:"ENDPOINT" default:"calldetails"`

	PollInterval time.Duration `envconfig:"POLL_INTERVAL" default:"1m"`
	Lookback     time.Duration `envconfig:"LOOKBACK" default:"2h"`
	// FullScanInterval is no longer used (the poller re-reads by age tier);
	// kept as text so that a value left in an environment neither fails
	// the start nor goes unnoticed: Warnings names it.
	FullScanInterval string        `envconfig:"FULL_SCAN_INTERVAL"`
	RecentWindow     time.Duration `envconfig:"RECENT_WINDOW" default:"3m"`
	APIRateLimit     float64       `envconfig:"API_RATE_LIMIT" default:"50"`
	RequestTimeout   time.Duration `envconfig:"REQUEST_TIMEOUT" default:"30s"`
	TimezoneOffset   int           `envconfig:"TIMEZONE_OFFSET" default:"0"`

	StatePath     string `envconfig:"STATE_PATH" default:"data/smartassist_exporter.db"`
	ListenAddress string `envconfig:"LISTEN_ADDRESS"` // default DefaultListenAddress
	WebConfigFile string `envconfig:"WEB_CONFIG_FILE"`
	LogLevel      string `envconfig:"LOG_LEVEL" default:"info"`
	LogFormat     string `envconfig:"LOG_FORMAT" default:"logfmt"`

	AgentMetrics    bool `envconfig:"AGENT_METRICS" default:"false"`
	MaxChannels     int  `envconfig:"MAX_CHANNELS" default:"20"`
	MaxQueues       int  `envconfig:"MAX_QUEUES" default:"50"`
	MaxDispositions int  `envconfig:"MAX_DISPOSITIONS" default:"50"`
	MaxCampaigns    int  `envconfig:"MAX_CAMPAIGNS" default:"50"`
	MaxStatuses     int  `envconfig:"MAX_STATUSES" default:"20"`
	MaxAgents       int  `envconfig:"MAX_AGENTS" default:"500"`

	// Capacity planning (issue 11): the targets and the estimation interval
	// of package capacity; the defaults are capacity.DefaultOptions.
	ServiceLevelTarget  float64       `envconfig:"SERVICE_LEVEL_TARGET" default:"0.8"`
	ServiceLevelSeconds float64       `envconfig:"SERVICE_LEVEL_SECONDS" default:"20"`
	MaxOccupancy        float64       `envconfig:"MAX_OCCUPANCY" default:"0.85"`
	Shrinkage           float64       `envconfig:"SHRINKAGE" default:"0.3"`
	CapacityInterval    time.Duration `envconfig:"CAPACITY_INTERVAL" default:"30m"`
	CapacitySettle      time.Duration `envconfig:"CAPACITY_SETTLE" default:"30m"`
	// Re-reading by value (issue 9): the periods of the age tiers and the
	// List of Conversations API for seeing closes.
	Recheck2hPeriod time.Duration `envconfig:"RECHECK_2H_PERIOD" default:"1h"`
	Recheck1dPeriod time.Duration `envconfig:"RECHECK_1D_PERIOD" default:"3h"`
	Recheck7dPeriod time.Duration `envconfig:"RECHECK_7D_PERIOD" default:"24h"`
	OpenList        bool          `envconfig:"OPEN_LIST" default:"true"`
	// Live queue and agent state (issue 10).
	LiveInterval OptionalInterval `envconfig:"LIVE_INTERVAL" default:"15s"`
	LiveSource   string           `envconfig:"LIVE_SOURCE" default:"auto"`
	// Exemplars, native histograms and the exemplar link (issue 13, 14).
	Exemplars        bool   `envconfig:"EXEMPLARS" default:"false"`
	NativeHistograms bool   `envconfig:"NATIVE_HISTOGRAMS" default:"false"`
	ConversationURL  string `envconfig:"CONVERSATION_URL"`

	// set holds the variables present in the environment Parse read, so
	// that -demo fills in only what the user left unset.
	set map[string]bool
}

// API budget bounds: a rate under MinAPIRateLimit would leave the exporter
// idle for hours (1e-300 is one request per 1e300 minutes); one over
// MaxAPIRateLimit is no limit at all.
const (
	MinAPIRateLimit = 0.1
	MaxAPIRateLimit = 100000
)

// Secret is a string that never prints.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// LogValue keeps the secret out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// OptionalInterval is a duration that may be switched off: "0" or "off".
type OptionalInterval time.Duration

// Decode implements envconfig.Decoder.
func (o *OptionalInterval) Decode(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "off", "0", "false", "disabled":
		*o = 0
		return nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return err
	}
	*o = OptionalInterval(d)
	return nil
}

// Duration is the interval; 0 when off.
func (o OptionalInterval) Duration() time.Duration { return time.Duration(o) }

// Live-state settings.
const (
	// LiveBudgetShare is the share of SMARTASSIST_API_RATE_LIMIT the live
	// collector may spend; the call-details collector keeps the rest.
	LiveBudgetShare = live.DefaultBudgetShare
	MinLiveInterval = 5 * time.Second
	MaxLiveInterval = time.Hour
)

// Var is the full name of a variable, e.g. Var("POLL_INTERVAL").
func Var(name string) string { return Prefix + "_" + name }

// Load reads and checks the environment. The error is one line for the user.
func Load() (*Config, error) {
	c, err := Parse()
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse reads the environment into a Config, with defaults for what is
// unset, without checking values beyond their types: callers (-demo) may
// fill in fields the user left unset, then Validate.
func Parse() (*Config, error) {
	// envconfig leaves a field without a default tag as it finds it when
	// its variable is unset: defaults defined as constants go in here.
	c := Config{ListenAddress: DefaultListenAddress}
	if err := envconfig.Process(Prefix, &c); err != nil {
		if pe, ok := errors.AsType[*envconfig.ParseError](err); ok {
			return nil, fmt.Errorf("%s: cannot use %q: %s", pe.KeyName, pe.Value, want(pe.TypeName))
		}
		return nil, err
	}
	c.set = map[string]bool{}
	t := reflect.TypeOf(c)
	for field := range t.Fields() {
		if name := field.Tag.Get("envconfig"); name != "" {
			if _, ok := os.LookupEnv(Var(name)); ok {
				c.set[name] = true
			}
		}
	}
	return &c, nil
}

// IsSet reports whether the user set the variable (name without prefix,
// e.g. "POLL_INTERVAL").
func (c *Config) IsSet(name string) bool { return c.set[name] }

func want(typeName string) string {
	switch typeName {
	case "Duration", "time.Duration":
		return "want a Go duration such as 30s, 1m or 2h"
	case "bool":
		return "want true or false"
	case "int":
		return "want a whole number"
	case "float64":
		return "want a number"
	case "config.OptionalInterval":
		return "want a Go duration such as 15s or 1m, or off"
	}
	return "want a " + typeName
}

// Validate checks every setting and changes none; the first problem found
// is returned.
func (c *Config) Validate() error {
	if err := c.validateBaseURL(); err != nil {
		return err
	}
	if strings.TrimSpace(c.AccountID) == "" {
		return fmt.Errorf("%s is required", Var("ACCOUNT_ID"))
	}
	if strings.TrimSpace(c.StreamID) == "" {
		return fmt.Errorf("%s is required", Var("STREAM_ID"))
	}
	if err := c.validateCredentials(); err != nil {
		return err
	}
	if !contains(collector.Endpoints, c.Endpoint) {
		return fmt.Errorf("%s must be %s, got %q", Var("ENDPOINT"), oneOf(collector.Endpoints), c.Endpoint)
	}
	if c.PollInterval < MinPollInterval {
		return fmt.Errorf("%s must be at least 1s, got %s", Var("POLL_INTERVAL"), c.PollInterval)
	}
	if c.Lookback < time.Minute || c.Lookback > MaxLookback {
		return fmt.Errorf("%s must be between 1m and %s (%d days, the API's limit), got %s",
			Var("LOOKBACK"), hours(MaxLookback), MaxLookback/(24*time.Hour), c.Lookback)
	}
	if c.RecentWindow < time.Minute {
		return fmt.Errorf("%s must be at least 1m (window edges and clock skew), got %s", Var("RECENT_WINDOW"), c.RecentWindow)
	}
	for _, r := range []struct {
		name   string
		period time.Duration
	}{{"RECHECK_2H_PERIOD", c.Recheck2hPeriod}, {"RECHECK_1D_PERIOD", c.Recheck1dPeriod}, {"RECHECK_7D_PERIOD", c.Recheck7dPeriod}} {
		// A period shorter than the poll interval means every poll.
		if r.period < time.Second || r.period > MaxLookback {
			return fmt.Errorf("%s must be between 1s and %s, got %s", Var(r.name), hours(MaxLookback), r.period)
		}
	}
	if math.IsNaN(c.APIRateLimit) || c.APIRateLimit < MinAPIRateLimit || c.APIRateLimit > MaxAPIRateLimit {
		return fmt.Errorf("%s must be requests per minute between %v and %v (the platform allows 60 per account, shared by all its users), got %v",
			Var("API_RATE_LIMIT"), MinAPIRateLimit, MaxAPIRateLimit, c.APIRateLimit)
	}
	if c.RequestTimeout < time.Second {
		return fmt.Errorf("%s must be at least 1s, got %s", Var("REQUEST_TIMEOUT"), c.RequestTimeout)
	}
	// Real zones run from UTC-12 (720 west) to UTC+14 (-840).
	if c.TimezoneOffset < -840 || c.TimezoneOffset > 720 {
		return fmt.Errorf("%s must be minutes west of UTC between -840 and 720 (New York 300, India -330), got %d", Var("TIMEZONE_OFFSET"), c.TimezoneOffset)
	}
	if strings.TrimSpace(c.StatePath) == "" {
		return fmt.Errorf("%s must not be empty", Var("STATE_PATH"))
	}
	if err := ValidateListenAddress(c.ListenAddress); err != nil {
		return err
	}
	if err := validateWebConfig(c.WebConfigFile); err != nil {
		return err
	}
	if _, err := c.SlogLevel(); err != nil {
		return err
	}
	if c.LogFormat != "logfmt" && c.LogFormat != "json" {
		return fmt.Errorf("%s must be logfmt or json, got %q", Var("LOG_FORMAT"), c.LogFormat)
	}
	if err := c.validateLive(); err != nil {
		return err
	}
	for _, cap := range []struct {
		name string
		v    int
	}{{"MAX_CHANNELS", c.MaxChannels}, {"MAX_QUEUES", c.MaxQueues}, {"MAX_DISPOSITIONS", c.MaxDispositions},
		{"MAX_CAMPAIGNS", c.MaxCampaigns}, {"MAX_STATUSES", c.MaxStatuses}, {"MAX_AGENTS", c.MaxAgents}} {
		if cap.v < 1 || cap.v > 100000 {
			return fmt.Errorf("%s must be between 1 and 100000, got %d", Var(cap.name), cap.v)
		}
	}
	if err := c.CapacityOptions().Validate(); err != nil {
		// capacity joins one error per bad setting; the user gets the
		// first, as for every other setting.
		if joined, ok := err.(interface{ Unwrap() []error }); ok && len(joined.Unwrap()) > 0 {
			err = joined.Unwrap()[0]
		}
		return err
	}
	if err := ValidateConversationURL(c.ConversationURL); err != nil {
		return err
	}
	return nil
}

// ConversationIDPlaceholder is what SMARTASSIST_CONVERSATION_URL holds
// where the conversation id goes.
const ConversationIDPlaceholder = "{{conversation_id}}"

// ValidateConversationURL checks SMARTASSIST_CONVERSATION_URL, the link
// template Grafana's exemplar links are made from (deploy files turn the
// placeholder into Grafana's ${__value.raw}). The exporter does not use it
// otherwise; it checks it so that the env file shared with Grafana fails
// loudly instead of producing broken links. Empty means no link.
func ValidateConversationURL(tmpl string) error {
	if tmpl == "" {
		return nil
	}
	v := Var("CONVERSATION_URL")
	if n := strings.Count(tmpl, ConversationIDPlaceholder); n != 1 {
		return fmt.Errorf("%s must hold %s exactly once (where the conversation id goes), got %q", v, ConversationIDPlaceholder, tmpl)
	}
	u, err := url.Parse(strings.Replace(tmpl, ConversationIDPlaceholder, "c-id", 1))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(tmpl, " \t\n\"'<>") {
		return fmt.Errorf("%s must be an http or https URL with %s in it (e.g. https://smartassist.example.com/conversations/%s), got %q", v, ConversationIDPlaceholder, ConversationIDPlaceholder, tmpl)
	}
	return nil
}

// CapacityOptions are the capacity-planning settings as package capacity
// takes them (the library never reads the environment itself).
func (c *Config) CapacityOptions() capacity.Options {
	return capacity.Options{
		ServiceLevelTarget:  c.ServiceLevelTarget,
		ServiceLevelSeconds: c.ServiceLevelSeconds,
		MaxOccupancy:        c.MaxOccupancy,
		Shrinkage:           c.Shrinkage,
		Interval:            c.CapacityInterval,
		Settle:              c.CapacitySettle,
	}
}

// validateLive checks the live-state settings: an interval the live share
// of the budget can pay for (Queue Performance costs one request a poll).
func (c *Config) validateLive() error {
	if !contains(live.Sources, c.LiveSource) {
		return fmt.Errorf("%s must be %s, got %q", Var("LIVE_SOURCE"), oneOf(live.Sources), c.LiveSource)
	}
	d := c.LiveInterval.Duration()
	if d == 0 {
		return nil
	}
	if d < MinLiveInterval || d > MaxLiveInterval {
		return fmt.Errorf("%s must be between %s and %s, or off, got %s", Var("LIVE_INTERVAL"), MinLiveInterval, hours(MaxLiveInterval), d)
	}
	if perMinute := time.Minute.Seconds() / d.Seconds(); c.IsSet("LIVE_INTERVAL") && perMinute > LiveBudgetShare*c.APIRateLimit+1e-9 {
		least := c.leastLiveInterval()
		return fmt.Errorf("%s %s costs %.3g requests a minute, over the live share (%.0f%%) of %s (%v a minute): set it to at least %s, or off",
			Var("LIVE_INTERVAL"), d, perMinute, LiveBudgetShare*100, Var("API_RATE_LIMIT"), c.APIRateLimit, least)
	}
	return nil
}

// leastLiveInterval is the shortest interval the live share of the budget
// pays for.
func (c *Config) leastLiveInterval() time.Duration {
	return time.Duration(math.Ceil(time.Minute.Seconds()/(LiveBudgetShare*c.APIRateLimit))) * time.Second
}

// LivePollInterval is the live-state interval to use; 0 when off. Left
// unset, the 15s default is lengthened to what a small
// SMARTASSIST_API_RATE_LIMIT's live share pays for; set, Validate refused
// an interval the share cannot pay for.
func (c *Config) LivePollInterval() time.Duration {
	d := c.LiveInterval.Duration()
	if d == 0 || c.IsSet("LIVE_INTERVAL") {
		return d
	}
	return max(d, c.leastLiveInterval())
}

// validateBaseURL accepts a scheme and a host (and port), nothing else: a
// user:password@ would be sent as basic auth and printed in the start line;
// a path, query or fragment would break every request URL.
func (c *Config) validateBaseURL() error {
	v := Var("BASE_URL")
	if c.BaseURL == "" {
		return fmt.Errorf("%s is required (scheme and host of the platform, e.g. https://platform.kore.ai)", v)
	}
	u, err := url.Parse(c.BaseURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%s must be an http or https URL with a host (e.g. https://platform.kore.ai), got %q", v, c.BaseURL)
	case u.User != nil:
		return fmt.Errorf("%s must not hold a user or password (the exporter authenticates with the JWT app's credentials); remove the part before @", v)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(c.BaseURL, "#"):
		return fmt.Errorf("%s must be only a scheme and a host, without ?query or #fragment (e.g. https://platform.kore.ai), got %q", v, c.BaseURL)
	case u.Path != "" && u.Path != "/":
		return fmt.Errorf("%s must be only a scheme and a host, without a path (the exporter adds the API paths), got %q", v, c.BaseURL)
	case u.Port() != "":
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("%s has an invalid port %q", v, u.Port())
		}
	}
	return nil
}

// ValidateListenAddress checks SMARTASSIST_LISTEN_ADDRESS's form
// (host:port, port 0-65535), so that a bad one stops the exporter before it
// creates anything.
func ValidateListenAddress(addr string) error {
	v := Var("LISTEN_ADDRESS")
	if strings.TrimSpace(addr) == "" {
		return fmt.Errorf("%s must not be empty (e.g. %s)", v, DefaultListenAddress)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s must be host:port or :port (e.g. %s), got %q", v, DefaultListenAddress, addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%s must end in a port number 0-65535 (e.g. %s), got %q", v, DefaultListenAddress, addr)
	}
	if strings.ContainsAny(host, " /?#@") {
		return fmt.Errorf("%s must be host:port or :port (e.g. %s), got %q", v, DefaultListenAddress, addr)
	}
	return nil
}

// validateWebConfig reads the web configuration as the server will (users'
// bcrypt hashes, TLS certificates and keys), so that a file the server
// cannot use stops the exporter at start instead of leaving it polling with
// nothing listening.
func validateWebConfig(path string) error {
	if path == "" {
		return nil
	}
	v := Var("WEB_CONFIG_FILE")
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: cannot read %s: %w", v, path, errors.Unwrap(err))
	}
	if st.IsDir() {
		return fmt.Errorf("%s: %s is a directory, not a web configuration file", v, path)
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("%s: %s is not a usable web configuration: %s", v, path, oneLine(err.Error()))
	}
	return nil
}

// oneOf lists the accepted values as an error says them: a, b or c.
func oneOf(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// hours writes d as Go parses it back, without the zero minutes and
// seconds: 168h, not 168h0m0s.
func hours(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Warnings are settings that work but deserve a line in the log.
func (c *Config) Warnings() []string {
	var w []string
	if u, err := url.Parse(c.BaseURL); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		w = append(w, fmt.Sprintf("%s is plain http to %s: the JWT travels in clear text; use https", Var("BASE_URL"), u.Hostname()))
	}
	if c.FullScanInterval != "" {
		w = append(w, fmt.Sprintf("%s is ignored: the exporter re-reads older conversations by age tier now (%s, %s, %s)",
			Var("FULL_SCAN_INTERVAL"), Var("RECHECK_2H_PERIOD"), Var("RECHECK_1D_PERIOD"), Var("RECHECK_7D_PERIOD")))
	}
	return w
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) validateCredentials() error {
	sources := 0
	for _, set := range []bool{c.ClientSecret != "", c.ClientSecretFile != "", c.Token != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		return fmt.Errorf("one of %s, %s or %s is required", Var("CLIENT_SECRET"), Var("CLIENT_SECRET_FILE"), Var("TOKEN"))
	case sources > 1:
		return fmt.Errorf("set only one of %s, %s and %s", Var("CLIENT_SECRET"), Var("CLIENT_SECRET_FILE"), Var("TOKEN"))
	}
	if c.Token != "" {
		return nil
	}
	if strings.TrimSpace(c.ClientID) == "" {
		return fmt.Errorf("%s is required with %s or %s", Var("CLIENT_ID"), Var("CLIENT_SECRET"), Var("CLIENT_SECRET_FILE"))
	}
	if c.ClientSecretFile != "" {
		if _, err := ReadSecretFile(c.ClientSecretFile); err != nil {
			return err
		}
	}
	return nil
}

// ReadSecretFile reads the client secret from a file, trimming the newline
// editors and Kubernetes secrets leave. It is read again on every token
// mint, so a rotated secret is picked up without a restart.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: cannot read %s: %w", Var("CLIENT_SECRET_FILE"), path, errors.Unwrap(err))
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty", Var("CLIENT_SECRET_FILE"), path)
	}
	return s, nil
}

// SlogLevel is LOG_LEVEL as a slog level.
func (c *Config) SlogLevel() (slog.Level, error) {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%s must be one of debug, info, warn, error, got %q", Var("LOG_LEVEL"), c.LogLevel)
}

// UnknownVariables lists SMARTASSIST_* variables in environ that no setting
// reads: usually a typo, reported as a warning rather than an error because
// Kubernetes injects SMARTASSIST_*_SERVICE_HOST style variables for a
// service of that name.
func UnknownVariables(environ []string) []string {
	known := map[string]bool{}
	t := reflect.TypeFor[Config]()
	for field := range t.Fields() {
		if name := field.Tag.Get("envconfig"); name != "" {
			known[Var(name)] = true
		}
	}
	var unknown []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, Prefix+"_") || known[k] {
			continue
		}
		if strings.Contains(k, "_SERVICE_") || strings.HasSuffix(k, "_PORT") || strings.Contains(k, "_PORT_") {
			continue
		}
		unknown = append(unknown, k)
	}
	sort.Strings(unknown)
	return unknown
}

// LogValue describes the configuration without secrets, for the start line.
func (c *Config) LogValue() slog.Value {
	auth := "client id + secret"
	switch {
	case c.Token != "":
		auth = "static token"
	case c.ClientSecretFile != "":
		auth = "client id + secret file"
	}
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("endpoint", c.Endpoint),
		slog.String("auth", auth),
		slog.Duration("poll_interval", c.PollInterval),
		slog.Duration("lookback", c.Lookback),
		slog.Duration("recent_window", c.RecentWindow),
		slog.Duration("recheck_2h_period", c.Recheck2hPeriod),
		slog.Duration("recheck_1d_period", c.Recheck1dPeriod),
		slog.Duration("recheck_7d_period", c.Recheck7dPeriod),
		slog.Bool("open_list", c.OpenList),
		slog.Float64("api_rate_limit_per_minute", c.APIRateLimit),
		slog.Int("timezone_offset", c.TimezoneOffset),
		slog.String("state_path", c.StatePath),
		slog.Bool("agent_metrics", c.AgentMetrics),
		slog.Duration("live_interval", c.LivePollInterval()),
		slog.String("live_source", c.LiveSource),
		slog.Float64("service_level_target", c.ServiceLevelTarget),
		slog.Float64("service_level_seconds", c.ServiceLevelSeconds),
		slog.Float64("max_occupancy", c.MaxOccupancy),
		slog.Float64("shrinkage", c.Shrinkage),
		slog.Duration("capacity_interval", c.CapacityInterval),
		slog.Duration("capacity_settle", c.CapacitySettle),
		slog.Bool("exemplars", c.Exemplars),
		slog.Bool("native_histograms", c.NativeHistograms),
	)
}

func contains(list []string, v string) bool {
	return slices.Contains(list, v)
}
