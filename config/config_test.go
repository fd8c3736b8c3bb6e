package config

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/smartassist-exporter/smartassist_exporter/capacity"
)

// valid is the smallest valid environment.
var valid = map[string]string{
	"SMARTASSIST_BASE_URL":      "https://platform.kore.ai",
	"SMARTASSIST_ACCOUNT_ID":    "acc",
	"SMARTASSIST_STREAM_ID":     "st-1",
	"SMARTASSIST_CLIENT_ID":     "cs-1",
	"SMARTASSIST_CLIENT_SECRET": "s3cret",
}

// setEnv clears every SMARTASSIST_ variable, then sets valid with changes
// applied ("" removes one).
func setEnv(t *testing.T, changes map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SMARTASSIST_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	env := map[string]string{}
	maps.Copy(env, valid)
	maps.Copy(env, changes)
	for k, v := range env {
		if v != "" {
			t.Setenv(k, v)
		}
	}
}

func TestDefaults(t *testing.T) {
	setEnv(t, nil)
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint != "calldetails" || c.PollInterval != time.Minute || c.Lookback != 2*time.Hour ||
		c.APIRateLimit != 50 || c.TimezoneOffset != 0 || c.ListenAddress != DefaultListenAddress ||
		c.StatePath != "data/smartassist_exporter.db" || c.LogLevel != "info" || c.LogFormat != "logfmt" ||
		c.AgentMetrics || c.MaxQueues != 50 || c.MaxDispositions != 50 || c.MaxCampaigns != 50 ||
		c.RecentWindow != 3*time.Minute || c.Recheck2hPeriod != time.Hour || c.Recheck1dPeriod != 3*time.Hour ||
		c.Recheck7dPeriod != 24*time.Hour || !c.OpenList || c.FullScanInterval != "" ||
		c.LiveInterval.Duration() != 15*time.Second || c.LiveSource != "auto" ||
		c.Exemplars || c.NativeHistograms || c.ConversationURL != "" {
		t.Errorf("defaults: %+v", c)
	}
}

// TestCapacityOptions: the defaults are the package's, and each variable
// reaches its field.
func TestCapacityOptions(t *testing.T) {
	setEnv(t, nil)
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.CapacityOptions(), capacity.DefaultOptions(); got != want {
		t.Errorf("defaults: got %+v, want capacity.DefaultOptions() %+v", got, want)
	}
	setEnv(t, map[string]string{
		"SMARTASSIST_SERVICE_LEVEL_TARGET": "0.9", "SMARTASSIST_SERVICE_LEVEL_SECONDS": "0",
		"SMARTASSIST_MAX_OCCUPANCY": "1", "SMARTASSIST_SHRINKAGE": "0",
		"SMARTASSIST_CAPACITY_INTERVAL": "15m", "SMARTASSIST_CAPACITY_SETTLE": "0s",
	})
	if c, err = Load(); err != nil {
		t.Fatal(err)
	}
	want := capacity.Options{ServiceLevelTarget: 0.9, ServiceLevelSeconds: 0, MaxOccupancy: 1, Shrinkage: 0,
		Interval: 15 * time.Minute, Settle: 0}
	if got := c.CapacityOptions(); got != want {
		t.Errorf("set: got %+v, want %+v", got, want)
	}
}

func TestAccepted(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, changes := range map[string]map[string]string{
		"poll 1s":               {"SMARTASSIST_POLL_INTERVAL": "1s", "SMARTASSIST_FULL_SCAN_INTERVAL": "1s"},
		"lookback 7 days":       {"SMARTASSIST_LOOKBACK": "168h"},
		"token only":            {"SMARTASSIST_CLIENT_ID": "", "SMARTASSIST_CLIENT_SECRET": "", "SMARTASSIST_TOKEN": "eyJ"},
		"secret file":           {"SMARTASSIST_CLIENT_SECRET": "", "SMARTASSIST_CLIENT_SECRET_FILE": secretFile},
		"raised rate limit":     {"SMARTASSIST_API_RATE_LIMIT": "600"},
		"fractional rate":       {"SMARTASSIST_API_RATE_LIMIT": "0.5"},
		"india":                 {"SMARTASSIST_TIMEZONE_OFFSET": "-330"},
		"interactionDetails":    {"SMARTASSIST_ENDPOINT": "interactionDetails"},
		"trailing slash":        {"SMARTASSIST_BASE_URL": "https://platform.kore.ai/"},
		"json logs":             {"SMARTASSIST_LOG_FORMAT": "json", "SMARTASSIST_LOG_LEVEL": "debug"},
		"live off":              {"SMARTASSIST_LIVE_INTERVAL": "off"},
		"live 0":                {"SMARTASSIST_LIVE_INTERVAL": "0"},
		"live queue size":       {"SMARTASSIST_LIVE_SOURCE": "queue_size", "SMARTASSIST_LIVE_INTERVAL": "1m"},
		"live off, tiny budget": {"SMARTASSIST_LIVE_INTERVAL": "off", "SMARTASSIST_API_RATE_LIMIT": "1"},
		"exemplars":             {"SMARTASSIST_EXEMPLARS": "true", "SMARTASSIST_NATIVE_HISTOGRAMS": "true"},
		"conversation link":     {"SMARTASSIST_CONVERSATION_URL": "https://smartassist.kore.ai/conversations/{{conversation_id}}?tab=details"},
		"recheck periods":       {"SMARTASSIST_RECHECK_2H_PERIOD": "1s", "SMARTASSIST_RECHECK_1D_PERIOD": "30m", "SMARTASSIST_RECHECK_7D_PERIOD": "168h", "SMARTASSIST_OPEN_LIST": "false"},
		"old full scan left":    {"SMARTASSIST_FULL_SCAN_INTERVAL": "not even a duration"},
	} {
		t.Run(name, func(t *testing.T) {
			setEnv(t, changes)
			c, err := Parse()
			if err != nil {
				t.Fatal(err)
			}
			before := *c
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.BaseURL != before.BaseURL || c.StatePath != before.StatePath {
				t.Errorf("Validate changed the configuration: %+v", c)
			}
		})
	}
}

func rateErr(got string) string {
	return "SMARTASSIST_API_RATE_LIMIT must be requests per minute between 0.1 and 100000 (the platform allows 60 per account, shared by all its users), got " + got
}

// writeWebConfigs makes web configuration files the server could not use.
func writeWebConfigs(t *testing.T) map[string]string {
	dir := t.TempDir()
	files := map[string]string{
		"missing cert":   "tls_server_config:\n  cert_file: " + filepath.Join(dir, "absent.crt") + "\n  key_file: " + filepath.Join(dir, "absent.key") + "\n",
		"misspelled key": "basic_auth_user:\n  prometheus: $2y$10$abcdefghijklmnopqrstuv\n",
		"plain password": "basic_auth_users:\n  prometheus: hunter2\n",
	}
	out := map[string]string{"dir": dir}
	for name, body := range files {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	return out
}

// webErr is the cause exporter-toolkit gives, on one line; the test checks
// that there is one and that the message wraps it.
func webErr(t *testing.T, path string) string {
	err := web.Validate(path)
	if err == nil {
		t.Fatalf("exporter-toolkit accepts %s", path)
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// TestRejected is the table of bad settings and the exact line each gives.
func TestRejected(t *testing.T) {
	webConfigs := writeWebConfigs(t)
	missing := filepath.Join(t.TempDir(), "nope")
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		changes map[string]string
		want    string
	}{
		{map[string]string{"SMARTASSIST_BASE_URL": ""}, "SMARTASSIST_BASE_URL is required (scheme and host of the platform, e.g. https://platform.kore.ai)"},
		{map[string]string{"SMARTASSIST_BASE_URL": "platform.kore.ai"}, `SMARTASSIST_BASE_URL must be an http or https URL with a host (e.g. https://platform.kore.ai), got "platform.kore.ai"`},
		{map[string]string{"SMARTASSIST_ACCOUNT_ID": ""}, "SMARTASSIST_ACCOUNT_ID is required"},
		{map[string]string{"SMARTASSIST_STREAM_ID": ""}, "SMARTASSIST_STREAM_ID is required"},
		{map[string]string{"SMARTASSIST_CLIENT_SECRET": ""}, "one of SMARTASSIST_CLIENT_SECRET, SMARTASSIST_CLIENT_SECRET_FILE or SMARTASSIST_TOKEN is required"},
		{map[string]string{"SMARTASSIST_TOKEN": "eyJ"}, "set only one of SMARTASSIST_CLIENT_SECRET, SMARTASSIST_CLIENT_SECRET_FILE and SMARTASSIST_TOKEN"},
		{map[string]string{"SMARTASSIST_CLIENT_ID": ""}, "SMARTASSIST_CLIENT_ID is required with SMARTASSIST_CLIENT_SECRET or SMARTASSIST_CLIENT_SECRET_FILE"},
		{map[string]string{"SMARTASSIST_CLIENT_SECRET": "", "SMARTASSIST_CLIENT_SECRET_FILE": missing}, "SMARTASSIST_CLIENT_SECRET_FILE: cannot read " + missing + ": no such file or directory"},
		{map[string]string{"SMARTASSIST_CLIENT_SECRET": "", "SMARTASSIST_CLIENT_SECRET_FILE": empty}, "SMARTASSIST_CLIENT_SECRET_FILE: " + empty + " is empty"},
		{map[string]string{"SMARTASSIST_ENDPOINT": "calls"}, `SMARTASSIST_ENDPOINT must be calldetails or interactionDetails, got "calls"`},
		{map[string]string{"SMARTASSIST_POLL_INTERVAL": "soon"}, `SMARTASSIST_POLL_INTERVAL: cannot use "soon": want a Go duration such as 30s, 1m or 2h`},
		{map[string]string{"SMARTASSIST_POLL_INTERVAL": "500ms"}, "SMARTASSIST_POLL_INTERVAL must be at least 1s, got 500ms"},
		{map[string]string{"SMARTASSIST_LOOKBACK": "169h"}, "SMARTASSIST_LOOKBACK must be between 1m and 168h (7 days, the API's limit), got 169h0m0s"},
		{map[string]string{"SMARTASSIST_LOOKBACK": "30s"}, "SMARTASSIST_LOOKBACK must be between 1m and 168h (7 days, the API's limit), got 30s"},
		{map[string]string{"SMARTASSIST_RECENT_WINDOW": "10s"}, "SMARTASSIST_RECENT_WINDOW must be at least 1m (window edges and clock skew), got 10s"},
		{map[string]string{"SMARTASSIST_RECHECK_2H_PERIOD": "500ms"}, "SMARTASSIST_RECHECK_2H_PERIOD must be between 1s and 168h, got 500ms"},
		{map[string]string{"SMARTASSIST_RECHECK_1D_PERIOD": "-1h"}, "SMARTASSIST_RECHECK_1D_PERIOD must be between 1s and 168h, got -1h0m0s"},
		{map[string]string{"SMARTASSIST_RECHECK_7D_PERIOD": "200h"}, "SMARTASSIST_RECHECK_7D_PERIOD must be between 1s and 168h, got 200h0m0s"},
		{map[string]string{"SMARTASSIST_RECHECK_7D_PERIOD": "daily"}, `SMARTASSIST_RECHECK_7D_PERIOD: cannot use "daily": want a Go duration such as 30s, 1m or 2h`},
		{map[string]string{"SMARTASSIST_OPEN_LIST": "maybe"}, `SMARTASSIST_OPEN_LIST: cannot use "maybe": want true or false`},
		{map[string]string{"SMARTASSIST_API_RATE_LIMIT": "0"}, rateErr("0")},
		{map[string]string{"SMARTASSIST_API_RATE_LIMIT": "-5"}, rateErr("-5")},
		{map[string]string{"SMARTASSIST_API_RATE_LIMIT": "Inf"}, rateErr("+Inf")},
		{map[string]string{"SMARTASSIST_API_RATE_LIMIT": "NaN"}, rateErr("NaN")},
		{map[string]string{"SMARTASSIST_API_RATE_LIMIT": "1e-300"}, rateErr("1e-300")},
		{map[string]string{"SMARTASSIST_API_RATE_LIMIT": "1e9"}, rateErr("1e+09")},
		{map[string]string{"SMARTASSIST_API_RATE_LIMIT": "lots"}, `SMARTASSIST_API_RATE_LIMIT: cannot use "lots": want a number`},
		{map[string]string{"SMARTASSIST_TIMEZONE_OFFSET": "1000"}, "SMARTASSIST_TIMEZONE_OFFSET must be minutes west of UTC between -840 and 720 (New York 300, India -330), got 1000"},
		{map[string]string{"SMARTASSIST_TIMEZONE_OFFSET": "+5:30"}, `SMARTASSIST_TIMEZONE_OFFSET: cannot use "+5:30": want a whole number`},
		{map[string]string{"SMARTASSIST_REQUEST_TIMEOUT": "0s"}, "SMARTASSIST_REQUEST_TIMEOUT must be at least 1s, got 0s"},
		{map[string]string{"SMARTASSIST_WEB_CONFIG_FILE": missing}, "SMARTASSIST_WEB_CONFIG_FILE: cannot read " + missing + ": no such file or directory"},
		{map[string]string{"SMARTASSIST_BASE_URL": "https://user:pw@platform.kore.ai"}, "SMARTASSIST_BASE_URL must not hold a user or password (the exporter authenticates with the JWT app's credentials); remove the part before @"},
		{map[string]string{"SMARTASSIST_BASE_URL": "https://platform.kore.ai/?x=1"}, `SMARTASSIST_BASE_URL must be only a scheme and a host, without ?query or #fragment (e.g. https://platform.kore.ai), got "https://platform.kore.ai/?x=1"`},
		{map[string]string{"SMARTASSIST_BASE_URL": "https://platform.kore.ai#frag"}, `SMARTASSIST_BASE_URL must be only a scheme and a host, without ?query or #fragment (e.g. https://platform.kore.ai), got "https://platform.kore.ai#frag"`},
		{map[string]string{"SMARTASSIST_BASE_URL": "https://platform.kore.ai/agentassist/api"}, `SMARTASSIST_BASE_URL must be only a scheme and a host, without a path (the exporter adds the API paths), got "https://platform.kore.ai/agentassist/api"`},
		{map[string]string{"SMARTASSIST_BASE_URL": "https://platform.kore.ai:99999"}, `SMARTASSIST_BASE_URL has an invalid port "99999"`},
		{map[string]string{"SMARTASSIST_BASE_URL": "ftp://platform.kore.ai"}, `SMARTASSIST_BASE_URL must be an http or https URL with a host (e.g. https://platform.kore.ai), got "ftp://platform.kore.ai"`},
		{map[string]string{"SMARTASSIST_LISTEN_ADDRESS": "10117"}, `SMARTASSIST_LISTEN_ADDRESS must be host:port or :port (e.g. :10117), got "10117"`},
		{map[string]string{"SMARTASSIST_LISTEN_ADDRESS": ":http-ish"}, `SMARTASSIST_LISTEN_ADDRESS must end in a port number 0-65535 (e.g. :10117), got ":http-ish"`},
		{map[string]string{"SMARTASSIST_LISTEN_ADDRESS": ":70000"}, `SMARTASSIST_LISTEN_ADDRESS must end in a port number 0-65535 (e.g. :10117), got ":70000"`},
		{map[string]string{"SMARTASSIST_WEB_CONFIG_FILE": webConfigs["dir"]}, "SMARTASSIST_WEB_CONFIG_FILE: " + webConfigs["dir"] + " is a directory, not a web configuration file"},
		{map[string]string{"SMARTASSIST_WEB_CONFIG_FILE": webConfigs["missing cert"]}, "SMARTASSIST_WEB_CONFIG_FILE: " + webConfigs["missing cert"] + " is not a usable web configuration: " + webErr(t, webConfigs["missing cert"])},
		{map[string]string{"SMARTASSIST_WEB_CONFIG_FILE": webConfigs["misspelled key"]}, "SMARTASSIST_WEB_CONFIG_FILE: " + webConfigs["misspelled key"] + " is not a usable web configuration: " + webErr(t, webConfigs["misspelled key"])},
		{map[string]string{"SMARTASSIST_WEB_CONFIG_FILE": webConfigs["plain password"]}, "SMARTASSIST_WEB_CONFIG_FILE: " + webConfigs["plain password"] + " is not a usable web configuration: " + webErr(t, webConfigs["plain password"])},
		{map[string]string{"SMARTASSIST_LOG_LEVEL": "verbose"}, `SMARTASSIST_LOG_LEVEL must be one of debug, info, warn, error, got "verbose"`},
		{map[string]string{"SMARTASSIST_LOG_FORMAT": "text"}, `SMARTASSIST_LOG_FORMAT must be logfmt or json, got "text"`},
		{map[string]string{"SMARTASSIST_AGENT_METRICS": "maybe"}, `SMARTASSIST_AGENT_METRICS: cannot use "maybe": want true or false`},
		{map[string]string{"SMARTASSIST_MAX_QUEUES": "0"}, "SMARTASSIST_MAX_QUEUES must be between 1 and 100000, got 0"},
		{map[string]string{"SMARTASSIST_MAX_DISPOSITIONS": "-1"}, "SMARTASSIST_MAX_DISPOSITIONS must be between 1 and 100000, got -1"},
		// Capacity planning: capacity.Options.Validate's line, the first one only.
		{map[string]string{"SMARTASSIST_SERVICE_LEVEL_TARGET": "80"}, "SMARTASSIST_SERVICE_LEVEL_TARGET must be greater than 0 and less than 1 (a share, 0.8 for 80 %), got 80"},
		{map[string]string{"SMARTASSIST_SERVICE_LEVEL_TARGET": "1"}, "SMARTASSIST_SERVICE_LEVEL_TARGET must be greater than 0 and less than 1 (a share, 0.8 for 80 %), got 1"},
		{map[string]string{"SMARTASSIST_SERVICE_LEVEL_TARGET": "NaN"}, "SMARTASSIST_SERVICE_LEVEL_TARGET must be greater than 0 and less than 1 (a share, 0.8 for 80 %), got NaN"},
		{map[string]string{"SMARTASSIST_SERVICE_LEVEL_TARGET": "80%"}, `SMARTASSIST_SERVICE_LEVEL_TARGET: cannot use "80%": want a number`},
		{map[string]string{"SMARTASSIST_SERVICE_LEVEL_SECONDS": "-1"}, "SMARTASSIST_SERVICE_LEVEL_SECONDS must be a finite number of seconds >= 0, got -1"},
		{map[string]string{"SMARTASSIST_SERVICE_LEVEL_SECONDS": "Inf"}, "SMARTASSIST_SERVICE_LEVEL_SECONDS must be a finite number of seconds >= 0, got +Inf"},
		{map[string]string{"SMARTASSIST_MAX_OCCUPANCY": "0"}, "SMARTASSIST_MAX_OCCUPANCY must be greater than 0 and at most 1, got 0"},
		{map[string]string{"SMARTASSIST_MAX_OCCUPANCY": "1.2"}, "SMARTASSIST_MAX_OCCUPANCY must be greater than 0 and at most 1, got 1.2"},
		{map[string]string{"SMARTASSIST_SHRINKAGE": "1"}, "SMARTASSIST_SHRINKAGE must be at least 0 and less than 1, got 1"},
		{map[string]string{"SMARTASSIST_SHRINKAGE": "-0.1"}, "SMARTASSIST_SHRINKAGE must be at least 0 and less than 1, got -0.1"},
		{map[string]string{"SMARTASSIST_CAPACITY_INTERVAL": "30s"}, "SMARTASSIST_CAPACITY_INTERVAL must be between 1m and 24h, got 30s"},
		{map[string]string{"SMARTASSIST_CAPACITY_INTERVAL": "25h"}, "SMARTASSIST_CAPACITY_INTERVAL must be between 1m and 24h, got 25h0m0s"},
		{map[string]string{"SMARTASSIST_CAPACITY_INTERVAL": "half an hour"}, `SMARTASSIST_CAPACITY_INTERVAL: cannot use "half an hour": want a Go duration such as 30s, 1m or 2h`},
		{map[string]string{"SMARTASSIST_CAPACITY_SETTLE": "-1m"}, "SMARTASSIST_CAPACITY_SETTLE must be between 0s and 24h, got -1m0s"},
		{map[string]string{"SMARTASSIST_CAPACITY_SETTLE": "48h"}, "SMARTASSIST_CAPACITY_SETTLE must be between 0s and 24h, got 48h0m0s"},
		// Two bad capacity settings: one line, the first.
		{map[string]string{"SMARTASSIST_MAX_OCCUPANCY": "2", "SMARTASSIST_SHRINKAGE": "2"}, "SMARTASSIST_MAX_OCCUPANCY must be greater than 0 and at most 1, got 2"},
		{map[string]string{"SMARTASSIST_LIVE_INTERVAL": "often"}, `SMARTASSIST_LIVE_INTERVAL: cannot use "often": want a Go duration such as 15s or 1m, or off`},
		{map[string]string{"SMARTASSIST_LIVE_INTERVAL": "1s"}, "SMARTASSIST_LIVE_INTERVAL must be between 5s and 1h, or off, got 1s"},
		{map[string]string{"SMARTASSIST_LIVE_INTERVAL": "-15s"}, "SMARTASSIST_LIVE_INTERVAL must be between 5s and 1h, or off, got -15s"},
		{map[string]string{"SMARTASSIST_LIVE_INTERVAL": "2h"}, "SMARTASSIST_LIVE_INTERVAL must be between 5s and 1h, or off, got 2h0m0s"},
		{map[string]string{"SMARTASSIST_API_RATE_LIMIT": "5", "SMARTASSIST_LIVE_INTERVAL": "15s"}, "SMARTASSIST_LIVE_INTERVAL 15s costs 4 requests a minute, over the live share (40%) of SMARTASSIST_API_RATE_LIMIT (5 a minute): set it to at least 30s, or off"},
		{map[string]string{"SMARTASSIST_LIVE_SOURCE": "websocket"}, `SMARTASSIST_LIVE_SOURCE must be auto, queue_performance or queue_size, got "websocket"`},
		// Exemplars and native histograms (issues 13, 14).
		{map[string]string{"SMARTASSIST_EXEMPLARS": "on"}, `SMARTASSIST_EXEMPLARS: cannot use "on": want true or false`},
		{map[string]string{"SMARTASSIST_NATIVE_HISTOGRAMS": "sparse"}, `SMARTASSIST_NATIVE_HISTOGRAMS: cannot use "sparse": want true or false`},
		{map[string]string{"SMARTASSIST_CONVERSATION_URL": "https://cc.example.com/c/"}, `SMARTASSIST_CONVERSATION_URL must hold {{conversation_id}} exactly once (where the conversation id goes), got "https://cc.example.com/c/"`},
		{map[string]string{"SMARTASSIST_CONVERSATION_URL": "https://cc.example.com/c/{{conversation_id}}/{{conversation_id}}"}, `SMARTASSIST_CONVERSATION_URL must hold {{conversation_id}} exactly once (where the conversation id goes), got "https://cc.example.com/c/{{conversation_id}}/{{conversation_id}}"`},
		{map[string]string{"SMARTASSIST_CONVERSATION_URL": "cc.example.com/c/{{conversation_id}}"}, `SMARTASSIST_CONVERSATION_URL must be an http or https URL with {{conversation_id}} in it (e.g. https://smartassist.example.com/conversations/{{conversation_id}}), got "cc.example.com/c/{{conversation_id}}"`},
		{map[string]string{"SMARTASSIST_CONVERSATION_URL": "javascript:alert(1)//{{conversation_id}}"}, `SMARTASSIST_CONVERSATION_URL must be an http or https URL with {{conversation_id}} in it (e.g. https://smartassist.example.com/conversations/{{conversation_id}}), got "javascript:alert(1)//{{conversation_id}}"`},
		{map[string]string{"SMARTASSIST_CONVERSATION_URL": "https://cc.example.com/c/{{conversation_id}}\"><script>"}, `SMARTASSIST_CONVERSATION_URL must be an http or https URL with {{conversation_id}} in it (e.g. https://smartassist.example.com/conversations/{{conversation_id}}), got "https://cc.example.com/c/{{conversation_id}}\"><script>"`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			setEnv(t, tc.changes)
			_, err := Load()
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	setEnv(t, map[string]string{"SMARTASSIST_CLIENT_SECRET": "hunter2-very-secret"})
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.ClientSecret.String(), c.LogValue().String(), c.ClientSecret.LogValue().String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestUnknownVariables(t *testing.T) {
	env := []string{"SMARTASSIST_POLL_INTERAVL=1m", "SMARTASSIST_LOOKBACK=2h", "PATH=/bin",
		"SMARTASSIST_EXPORTER_SERVICE_HOST=10.0.0.1", "SMARTASSIST_EXPORTER_PORT=tcp://10.0.0.1:10117"}
	got := UnknownVariables(env)
	if len(got) != 1 || got[0] != "SMARTASSIST_POLL_INTERAVL" {
		t.Errorf("unknown: %v", got)
	}
}

func TestWarnings(t *testing.T) {
	for url, warn := range map[string]bool{
		"http://platform.example.com": true, "https://platform.example.com": false,
		"http://127.0.0.1:8080": false, "http://localhost": false, "http://[::1]:80": false,
	} {
		c := &Config{BaseURL: url}
		if got := len(c.Warnings()) > 0; got != warn {
			t.Errorf("%s: warning %v, want %v (%v)", url, got, warn, c.Warnings())
		}
	}
	// A setting the exporter no longer uses, left in the environment: a
	// warning naming it, not a failed start.
	setEnv(t, map[string]string{"SMARTASSIST_FULL_SCAN_INTERVAL": "15m"})
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], "SMARTASSIST_FULL_SCAN_INTERVAL is ignored") {
		t.Errorf("warnings %v", w)
	}
}

// TestIsSet: Parse remembers which variables the user set, so that -demo
// fills in only the others.
func TestIsSet(t *testing.T) {
	setEnv(t, map[string]string{"SMARTASSIST_POLL_INTERVAL": "5s"})
	c, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsSet("POLL_INTERVAL") || !c.IsSet("BASE_URL") || c.IsSet("LOOKBACK") {
		t.Errorf("set: %v", c.set)
	}
}

// TestLiveIntervalFollowsASmallBudget: left unset, the live interval is
// lengthened to what the live share of a small budget pays for; set, it is
// used as given.
func TestLiveIntervalFollowsASmallBudget(t *testing.T) {
	for _, tc := range []struct {
		changes map[string]string
		want    time.Duration
	}{
		{nil, 15 * time.Second},
		{map[string]string{"SMARTASSIST_API_RATE_LIMIT": "5"}, 30 * time.Second},
		{map[string]string{"SMARTASSIST_API_RATE_LIMIT": "0.5"}, 5 * time.Minute},
		{map[string]string{"SMARTASSIST_LIVE_INTERVAL": "20s"}, 20 * time.Second},
		{map[string]string{"SMARTASSIST_LIVE_INTERVAL": "off", "SMARTASSIST_API_RATE_LIMIT": "5"}, 0},
	} {
		setEnv(t, tc.changes)
		c, err := Load()
		if err != nil {
			t.Fatalf("%v: %v", tc.changes, err)
		}
		if got := c.LivePollInterval(); got != tc.want {
			t.Errorf("%v: live interval %s, want %s", tc.changes, got, tc.want)
		}
	}
}
