package main

// Shared helpers of the end-to-end tests: the exporter binary launched with
// a real environment, real tools (Prometheus, the OpenTelemetry Collector)
// started for a test, and the simulator. Every test that launches the
// binary or a tool skips under -short (the quick tier); the README's test
// command runs them.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smartassist-exporter/smartassist_exporter/internal/testkit"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

var (
	buildOnce sync.Once
	binDir    string
	binary    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// exporterBinary builds the exporter once per test binary, the first time
// a test needs it; under -short it skips the test instead.
func exporterBinary(t *testing.T) string {
	t.Helper()
	skipShort(t, "builds and runs the exporter binary")
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "smartassist-bin-"); buildErr != nil {
			return
		}
		binary = filepath.Join(binDir, "smartassist_exporter")
		if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the exporter: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// skipShort skips a test of the slow tier under go test -short.
func skipShort(t *testing.T, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that " + why)
	}
}

type syncBuffer = testkit.SyncBuffer

// startTool starts an external program (Prometheus, the collector) for
// the length of the test, stops it by PID afterwards, and shows its output
// if the test failed.
func startTool(t *testing.T, label, path string, args ...string) {
	t.Helper()
	skipShort(t, "starts "+label)
	logs := &syncBuffer{}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", label, logs.String())
		}
	})
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// launch describes one run of the exporter binary.
type launch struct {
	args []string
	// env is the whole environment, plus PATH and, unless it sets one,
	// SMARTASSIST_LISTEN_ADDRESS on a free port.
	env map[string]string
	// ready waits until /readyz answers 200; otherwise start returns at
	// once (for runs expected to fail, or servers behind auth).
	ready bool
}

type exporter struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
	done chan error
}

// start runs the binary as l describes; it is killed when the test ends.
func (l launch) start(t *testing.T) *exporter {
	t.Helper()
	cmd := exec.Command(exporterBinary(t), l.args...)
	addr := l.env["SMARTASSIST_LISTEN_ADDRESS"]
	if _, set := l.env["SMARTASSIST_LISTEN_ADDRESS"]; !set {
		addr = freeAddr(t)
	}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SMARTASSIST_LISTEN_ADDRESS=" + addr}
	for k, v := range l.env {
		if k != "SMARTASSIST_LISTEN_ADDRESS" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	e := &exporter{cmd: cmd, addr: addr, logs: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = e.logs, e.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			t.Logf("exporter killed at cleanup: %v", <-e.done)
		}
		if t.Failed() {
			t.Logf("exporter log:\n%s", e.logs.String())
		}
	})
	if l.ready {
		waitFor(t, 30*time.Second, "exporter ready", func() bool {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	return e
}

// exit waits at most limit for the process to end on its own and returns
// its exit status (-1: killed by a signal).
func (e *exporter) exit(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case err := <-e.done:
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &exit):
			return exit.ExitCode()
		}
		t.Fatalf("waiting for the exporter: %v", err)
	case <-time.After(limit):
		t.Fatalf("the exporter still runs %v later", limit)
	}
	return 0
}

// runToExit runs the binary and returns its exit status and output.
func (l launch) runToExit(t *testing.T) (int, string) {
	t.Helper()
	e := l.start(t)
	code := e.exit(t, 30*time.Second)
	return code, e.logs.String()
}

// startExporter runs the binary with exactly env (plus PATH) and waits
// until /readyz answers 200.
func startExporter(t *testing.T, env map[string]string, args ...string) *exporter {
	t.Helper()
	return launch{args: args, env: env, ready: true}.start(t)
}

// stop sends SIGTERM and checks the process is gone within a few seconds.
func (e *exporter) stop(t *testing.T) {
	t.Helper()
	began := time.Now()
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-e.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(began).Round(time.Millisecond))
}

// healthcheck runs the binary's -healthcheck against the exporter at addr.
func healthcheck(t *testing.T, addr string) error {
	cmd := exec.Command(exporterBinary(t), "-healthcheck")
	cmd.Env = []string{"SMARTASSIST_LISTEN_ADDRESS=" + addr}
	return cmd.Run()
}

func (e *exporter) scrape(t *testing.T) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get("http://" + e.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs, string(body)
}

// sum adds the values of every series of a counter or gauge family.
func sum(mfs map[string]*dto.MetricFamily, name string) float64 {
	total := 0.0
	if mf := mfs[name]; mf != nil {
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return total
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const (
	testClientID = "cs-integration"
	testSecret   = "integration-secret-value"
)

func newSimulator(t *testing.T) (*simulator.Server, string) {
	sim := simulator.New(simulator.Options{AccountID: "acc-1", StreamID: "st-1", ClientID: testClientID,
		ClientSecret: testSecret, RateLimit: 3000, FailureRate: 0.05, Seed: 7})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func exporterEnv(apiURL, statePath string) map[string]string {
	return map[string]string{
		"SMARTASSIST_BASE_URL": apiURL, "SMARTASSIST_ACCOUNT_ID": "acc-1", "SMARTASSIST_STREAM_ID": "st-1",
		"SMARTASSIST_CLIENT_ID": testClientID, "SMARTASSIST_CLIENT_SECRET": testSecret,
		"SMARTASSIST_POLL_INTERVAL": "1s", "SMARTASSIST_RECHECK_2H_PERIOD": "2s", "SMARTASSIST_LOOKBACK": "2h",
		"SMARTASSIST_API_RATE_LIMIT": "2400", "SMARTASSIST_TIMEZONE_OFFSET": "-330", "SMARTASSIST_AGENT_METRICS": "true",
		"SMARTASSIST_STATE_PATH": statePath, "SMARTASSIST_LOG_LEVEL": "debug",
	}
}
