package command

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"mailstack/toolchain/providers/internal/base"
	"mailstack/toolchain/providers/internal/basetest"
)

const (
	localURN  = "urn:pulumi:dev::proj::command:local:Command::step"
	remoteURN = "urn:pulumi:dev::proj::command:remote:Command::step"
)

func newTestProvider() (*Provider, *basetest.Log) {
	p := New(nil)
	l := &basetest.Log{}
	p.Logger = l.Logger
	return p, l
}

func props(t *testing.T, m map[string]any) resource.PropertyMap {
	t.Helper()
	return resource.NewPropertyMapFromMap(m)
}

var marshal, unmarshal = basetest.Marshal, basetest.Unmarshal

// check runs Check and fails the test on check failures.
func check(t *testing.T, p *Provider, urn string, news resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urn, News: marshal(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Failures) > 0 {
		t.Fatalf("check failures: %v", resp.Failures)
	}
	return unmarshal(t, resp.Inputs)
}

func create(t *testing.T, p *Provider, urn string, inputs resource.PropertyMap) (resource.PropertyMap, error) {
	t.Helper()
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urn, Properties: marshal(t, inputs)})
	if err != nil {
		return nil, err
	}
	if resp.Id == "" {
		t.Fatal("no ID")
	}
	return unmarshal(t, resp.Properties), nil
}

func diff(t *testing.T, p *Provider, urn string, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: urn, OldInputs: marshal(t, olds), Olds: marshal(t, olds), News: marshal(t, news),
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func str(t *testing.T, pm resource.PropertyMap, key string) string {
	t.Helper()
	s, ok := base.GetString(pm, key)
	if !ok {
		t.Fatalf("%s is not a known string: %v", key, pm[resource.PropertyKey(key)])
	}
	return s
}

func TestDiffSemantics(t *testing.T) {
	p, _ := newTestProvider()
	conn := map[string]any{"host": "h", "privateKey": "k"}
	old := check(t, p, remoteURN, props(t, map[string]any{
		"connection": conn, "create": "echo a", "stdin": "x", "triggers": []any{"1"},
	}))
	same := check(t, p, remoteURN, props(t, map[string]any{
		"connection": conn, "create": "echo a", "stdin": "x", "triggers": []any{"1"},
	}))
	if d := diff(t, p, remoteURN, old, same); d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("no change: got %v", d)
	}

	// Secretness alone is a change (an update): infer's default diff compares with
	// resource.PropertyValue.DeepEquals, which tells a secret from a plain value (pulumi-go-provider v1.3.0
	// infer/resource.go; pulumi sdk go/common/resource/properties_diff.go).
	secretStdin := same.Copy()
	secretStdin["stdin"] = resource.MakeSecret(secretStdin["stdin"])
	if d := diff(t, p, remoteURN, old, secretStdin); d.Changes != pulumirpc.DiffResponse_DIFF_SOME ||
		len(d.Replaces) != 0 || len(d.Diffs) != 1 || d.Diffs[0] != "stdin" {
		t.Fatalf("secretness only: got %v", d)
	}

	for _, tc := range []struct {
		name    string
		key     string
		value   any
		replace bool
	}{
		{"stdin", "stdin", "y", false},
		{"create", "create", "echo b", false},
		{"delete added", "delete", "rm x", false},
		{"logging", "logging", "none", false},
		{"connection", "connection", map[string]any{"host": "other", "privateKey": "k"}, false},
		{"environment", "environment", map[string]any{"A": "1"}, false},
		{"triggers", "triggers", []any{"2"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			news := same.Copy()
			news[resource.PropertyKey(tc.key)] = resource.NewPropertyValue(tc.value)
			news = check(t, p, remoteURN, news)
			d := diff(t, p, remoteURN, old, news)
			if d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Diffs) != 1 || d.Diffs[0] != tc.key {
				t.Fatalf("want a change of %s, got %v", tc.key, d)
			}
			if got := len(d.Replaces) > 0; got != tc.replace {
				t.Fatalf("replace: want %v, got %v", tc.replace, d.Replaces)
			}
		})
	}

	// An unknown value may change: an update during preview.
	unknown := same.Copy()
	unknown["stdin"] = resource.MakeComputed(resource.NewStringProperty(""))
	if d := diff(t, p, remoteURN, old, unknown); d.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(d.Replaces) != 0 {
		t.Fatalf("unknown stdin: got %v", d)
	}

	// Without old inputs, old outputs (inputs + stdout/stderr) stand in for them.
	oldOuts := old.Copy()
	oldOuts["stdout"] = resource.NewStringProperty("a")
	oldOuts["stderr"] = resource.NewStringProperty("")
	resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: remoteURN, Olds: marshal(t, oldOuts), News: marshal(t, same),
	})
	if err != nil || resp.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("outputs as old inputs: %v %v", resp, err)
	}
}

func TestCheck(t *testing.T) {
	p, _ := newTestProvider()
	in := check(t, p, remoteURN, props(t, map[string]any{"connection": map[string]any{"host": "h"}, "create": "true"}))
	if !in["connection"].IsSecret() {
		t.Fatal("connection must be secret")
	}
	c := base.Plain(in["connection"]).ObjectValue()
	if base.GetInt(c, "port", 0) != 22 || str(t, c, "user") != "root" || base.GetInt(c, "dialErrorLimit", 0) != 10 ||
		base.GetInt(c, "perDialTimeout", 0) != 15 {
		t.Fatalf("connection defaults: %v", c)
	}
	// addPreviousOutputInEnv defaults to true but is not written into the inputs (pulumi-command v1.2.1
	// local/run.go and remote/commandOutputs.go read a nil as true).
	if v, ok := in["addPreviousOutputInEnv"]; ok {
		t.Fatalf("addPreviousOutputInEnv stored in the inputs: %v", v)
	}

	for _, tc := range []struct {
		urn    string
		news   map[string]any
		failOn string
	}{
		{remoteURN, map[string]any{"create": "true"}, "connection"},
		{remoteURN, map[string]any{"connection": map[string]any{"port": 22}}, "connection.host"},
		{remoteURN, map[string]any{"connection": map[string]any{"host": "h", "port": "22"}}, "connection.port"},
		{remoteURN, map[string]any{"connection": map[string]any{"host": "h"}, "logging": "all"}, "logging"},
		{localURN, map[string]any{"create": 3}, "create"},
		{localURN, map[string]any{"environment": map[string]any{"A": 1}}, "environment.A"},
		{localURN, map[string]any{"interpreter": "sh"}, "interpreter"},
		{localURN, map[string]any{"crate": "typo"}, "crate"},
	} {
		resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: tc.urn, News: marshal(t, props(t, tc.news))})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Failures) != 1 || resp.Failures[0].Property != tc.failOn {
			t.Errorf("%v: want one failure on %s, got %v", tc.news, tc.failOn, resp.Failures)
		}
	}
}

func TestLocalCommand(t *testing.T) {
	p, logs := newTestProvider()
	dir := t.TempDir()
	in := check(t, p, localURN, props(t, map[string]any{
		"create":      `cat; echo " $GREETING in $(pwd)"; echo warn >&2`,
		"update":      `echo "was: $PULUMI_COMMAND_STDOUT"`,
		"delete":      `echo "deleting after: $PULUMI_COMMAND_STDOUT" > deleted`,
		"stdin":       "hello",
		"environment": map[string]any{"GREETING": "hi"},
		"dir":         dir,
	}))
	outs, err := create(t, p, localURN, in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := str(t, outs, "stdout"), "hello hi in "+dir; got != want {
		t.Fatalf("stdout: got %q, want %q", got, want)
	}
	if got := str(t, outs, "stderr"); got != "warn" {
		t.Fatalf("stderr: %q", got)
	}
	if str(t, outs, "create") != str(t, in, "create") {
		t.Fatal("outputs must include the inputs")
	}
	if l := logs.All(); !strings.Contains(l, "hello hi in") || !strings.Contains(l, "warn") {
		t.Fatalf("stdout and stderr should be logged: %q", l)
	}

	// Update runs `update`, with the previous stdout in the environment.
	news := in.Copy()
	news["stdin"] = resource.NewStringProperty("changed")
	resp, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: localURN, Olds: marshal(t, outs), News: marshal(t, news), OldInputs: marshal(t, in),
	})
	if err != nil {
		t.Fatal(err)
	}
	updated := unmarshal(t, resp.Properties)
	if got := str(t, updated, "stdout"); got != "was: hello hi in "+dir {
		t.Fatalf("update stdout: %q", got)
	}

	// Delete runs `delete` with the last stdout.
	if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{Urn: localURN, Properties: marshal(t, updated)}); err != nil {
		t.Fatal(err)
	}
	if b, err := readFile(dir + "/deleted"); err != nil || b != "deleting after: was: hello hi in "+dir+"\n" {
		t.Fatalf("delete: %q %v", b, err)
	}
}

func TestUpdateFallsBackToCreate(t *testing.T) {
	p, _ := newTestProvider()
	in := check(t, p, localURN, props(t, map[string]any{"create": "echo create", "addPreviousOutputInEnv": false}))
	outs, err := create(t, p, localURN, in)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{Urn: localURN, Olds: marshal(t, outs), News: marshal(t, in)})
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, unmarshal(t, resp.Properties), "stdout"); got != "create" {
		t.Fatalf("update without `update` runs create: %q", got)
	}
}

func TestPreviewRunsNothing(t *testing.T) {
	p, _ := newTestProvider()
	marker := t.TempDir() + "/ran"
	in := check(t, p, localURN, props(t, map[string]any{"create": "touch " + marker}))
	for _, preview := range []bool{true} {
		resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: localURN, Properties: marshal(t, in), Preview: preview})
		if err != nil {
			t.Fatal(err)
		}
		outs := unmarshal(t, resp.Properties)
		if !outs["stdout"].IsComputed() || !outs["stderr"].IsComputed() {
			t.Fatalf("preview outputs must be unknown: %v", outs)
		}
	}
	// Unknown inputs during an update preview, too.
	news := in.Copy()
	news["stdin"] = resource.MakeComputed(resource.NewStringProperty(""))
	resp, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{Urn: localURN, Olds: marshal(t, in), News: marshal(t, news), Preview: true})
	if err != nil || !unmarshal(t, resp.Properties)["stdout"].IsComputed() {
		t.Fatalf("update preview: %v %v", resp, err)
	}
	if _, err := readFile(marker); err == nil {
		t.Fatal("a preview ran the command")
	}
}

// pulumi-command v1.2.1 has no secret flow of its own: infer's default makes an output secret only when the input
// of the same name is (pulumi-go-provider v1.3.0 infer/resource.go), so stdout and stderr are plain even when
// stdin is secret; a program marks them with additionalSecretOutputs. Its errors carry the command line and
// everything it printed (local/run.go: "%w: running %q:\n%s"), whatever `logging` says; only `logging` decides
// what is streamed.
func TestSecrets(t *testing.T) {
	p, logs := newTestProvider()
	news := props(t, map[string]any{"create": "cat", "logging": "none"})
	news["stdin"] = resource.MakeSecret(resource.NewStringProperty("s3cret-stdin"))
	in := check(t, p, localURN, news)
	if !in["stdin"].IsSecret() {
		t.Fatal("Check must keep stdin secret")
	}
	outs, err := create(t, p, localURN, in)
	if err != nil {
		t.Fatal(err)
	}
	if !outs["stdin"].IsSecret() || outs["stdout"].IsSecret() || outs["stderr"].IsSecret() {
		t.Fatalf("stdin must stay secret, stdout and stderr not become: %v", outs)
	}
	if str(t, outs, "stdout") != "s3cret-stdin" || strings.Contains(logs.All(), "s3cret") {
		t.Fatalf("stdout %q, logs %q", str(t, outs, "stdout"), logs.All())
	}

	// Without logging "none", what the command prints is streamed, secret stdin or not.
	news["logging"] = resource.NewStringProperty("stdoutAndStderr")
	if _, err := create(t, p, localURN, check(t, p, localURN, news)); err != nil || !strings.Contains(logs.All(), "s3cret") {
		t.Fatalf("logs %q, err %v", logs.All(), err)
	}

	// A failure: the error, the command line, then stdout and stderr as they came. The two pipes are read
	// concurrently, so which of the two lines came first is up to the scheduler.
	in = check(t, p, localURN, props(t, map[string]any{"create": "echo out; echo err >&2; exit 4", "logging": "none"}))
	_, err = create(t, p, localURN, in)
	head := "exit status 4: running \"echo out; echo err >&2; exit 4\":\n"
	if err == nil || (err.Error() != head+"out\nerr\n" && err.Error() != head+"err\nout\n") {
		t.Fatalf("error %q, want %q and both lines", err, head)
	}
}

func TestLoggingModes(t *testing.T) {
	for mode, want := range map[string][2]bool{
		"stdout": {true, false}, "stderr": {false, true}, "stdoutAndStderr": {true, true}, "none": {false, false},
	} {
		p, logs := newTestProvider()
		in := check(t, p, localURN, props(t, map[string]any{"create": "echo OUT; echo ERR >&2", "logging": mode}))
		if _, err := create(t, p, localURN, in); err != nil {
			t.Fatal(err)
		}
		l := logs.All()
		if strings.Contains(l, "OUT") != want[0] || strings.Contains(l, "ERR") != want[1] {
			t.Errorf("logging %s: logs %q", mode, l)
		}
	}
}
