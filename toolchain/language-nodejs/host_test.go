package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestParseArgs(t *testing.T) {
	cases := []struct {
		args []string
		want options
	}{
		{[]string{"127.0.0.1:1234"}, options{engineAddr: "127.0.0.1:1234"}},
		// The engine's own spelling: "--tracing URL" then the address last.
		{[]string{"--logtostderr", "-v=9", "--tracing", "http://t:9411", "127.0.0.1:1"},
			options{engineAddr: "127.0.0.1:1", tracing: "http://t:9411", logToStderr: true, verbose: 9}},
		// Flags of the real host and unknown future flags are tolerated.
		{[]string{"-root=/p", "-typescript", "true", "--future-flag", "--other=x", "127.0.0.1:2"},
			options{engineAddr: "127.0.0.1:2"}},
	}
	for _, c := range cases {
		got, err := parseArgs(c.args)
		if err != nil || got != c.want {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
	if _, err := parseArgs([]string{"--tracing"}); err == nil {
		t.Error("a value flag without a value must be an error")
	}
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func TestBuildRunCommand(t *testing.T) {
	req := &pulumirpc.RunRequest{
		MonitorAddress:   "127.0.0.1:5000",
		Project:          "mailstack",
		Stack:            "dev",
		Pwd:              "/src/prog",
		Organization:     "organization",
		Parallel:         -1,
		DryRun:           true,
		Config:           map[string]string{"mailstack:domain": "example.org", "mailstack:pw": "s3cret"},
		ConfigSecretKeys: []string{"mailstack:pw"},
		Args:             []string{"extra"},
		Info:             &pulumirpc.ProgramInfo{RootDirectory: "/src", ProgramDirectory: "/src/prog", EntryPoint: "."},
	}
	nc, err := buildRunCommand(req, "/nm/@pulumi/pulumi/cmd/run", "127.0.0.1:6000", "")
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := []string{
		"/nm/@pulumi/pulumi/cmd/run",
		"--monitor=127.0.0.1:5000", "--project=mailstack", "--stack=dev", "--pwd=/src/prog", "--parallel=-1",
		"--engine=127.0.0.1:6000", "--organization=organization", "--root-directory=/src", "--dry-run",
		".", "extra",
	}
	if !reflect.DeepEqual(nc.args, wantArgs) {
		t.Errorf("args =\n %q\nwant\n %q", nc.args, wantArgs)
	}
	if nc.dir != "/src/prog" {
		t.Errorf("dir = %q", nc.dir)
	}
	env := envMap(nc.env)
	var cfg map[string]string
	if err := json.Unmarshal([]byte(env["PULUMI_CONFIG"]), &cfg); err != nil || !reflect.DeepEqual(cfg, req.Config) {
		t.Errorf("PULUMI_CONFIG = %q (%v)", env["PULUMI_CONFIG"], err)
	}
	if env["PULUMI_CONFIG_SECRET_KEYS"] != `["mailstack:pw"]` {
		t.Errorf("PULUMI_CONFIG_SECRET_KEYS = %q", env["PULUMI_CONFIG_SECRET_KEYS"])
	}
	if env["PULUMI_NODEJS_TYPESCRIPT"] != "true" {
		t.Errorf("typescript must default to on, env = %v", env)
	}
}

func TestBuildRunCommandOptionsAndEntryPoint(t *testing.T) {
	opts, err := structpb.NewStruct(map[string]any{
		"typescript": false, "tsconfig": "tsconfig.pulumi.json", "nodeargs": "--max-old-space-size=4096 --trace-warnings",
	})
	if err != nil {
		t.Fatal(err)
	}
	req := &pulumirpc.RunRequest{
		MonitorAddress: "m", Project: "p", Stack: "s", Parallel: 4,
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: "/src/prog", EntryPoint: "bin/main.js", Options: opts},
	}
	nc, err := buildRunCommand(req, "/run", "", "http://zipkin")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--max-old-space-size=4096", "--trace-warnings", "/run",
		"--monitor=m", "--project=p", "--stack=s", "--pwd=/src/prog", "--parallel=4",
		"--tracing=http://zipkin", "/src/prog/bin/main.js",
	}
	if !reflect.DeepEqual(nc.args, want) {
		t.Errorf("args =\n %q\nwant\n %q", nc.args, want)
	}
	env := envMap(nc.env)
	if env["PULUMI_NODEJS_TYPESCRIPT"] != "false" || env["PULUMI_NODEJS_TSCONFIG_PATH"] != "tsconfig.pulumi.json" {
		t.Errorf("env = %v", env)
	}
	if env["PULUMI_CONFIG"] != "{}" || env["PULUMI_CONFIG_SECRET_KEYS"] != "[]" {
		t.Errorf("empty config must still be valid JSON, env = %v", env)
	}
}

func TestRunResponse(t *testing.T) {
	exitWith := func(code string) error { return exec.Command("sh", "-c", "exit "+code).Run() }
	if r := runResponse(nil); r.Error != "" || r.Bail {
		t.Errorf("success = %+v", r)
	}
	if r := runResponse(exitWith("32")); !r.Bail || r.Error != "" {
		t.Errorf("exit 32 = %+v, want bail", r)
	}
	if r := runResponse(exitWith("1")); r.Bail || !strings.Contains(r.Error, "code 1") {
		t.Errorf("exit 1 = %+v, want error", r)
	}
	if r := runResponse(exec.Command("sh", "-c", "kill -9 $$").Run()); r.Bail || r.Error == "" {
		t.Errorf("killed = %+v, want error", r)
	}
}

func TestNpmInstallArgs(t *testing.T) {
	root := fakeProject(t)
	if got := npmInstallArgs(root)[0]; got != "install" {
		t.Errorf("without lockfile: %s", got)
	}
	writePkg(t, root, `{}`) // keep package.json; add a lockfile next to it
	if err := os.WriteFile(filepath.Join(root, "package-lock.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := npmInstallArgs(root)[0]; got != "ci" {
		t.Errorf("with lockfile: %s", got)
	}
}
