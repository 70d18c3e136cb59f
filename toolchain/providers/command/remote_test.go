package command

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// testServer is a throwaway sshd on 127.0.0.1, stopped when the test ends.
type testServer struct {
	port       int
	user       string
	privateKey string
	hostKey    string // the server's public host key, authorized_keys format
	dir        string
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func keygen(t *testing.T, path string) {
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

// prepareSSHD writes an sshd's keys and configuration for port; start launches it and waits until it listens.
// The process is killed when the test ends.
func prepareSSHD(t *testing.T, port int) (s *testServer, start func() error) {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
	}
	if _, err := os.Stat(sshd); err != nil {
		// npm test installs sshd and sets this, so that there the remote tests can never be skipped.
		if os.Getenv("MAILSTACK_REQUIRE_SSHD") != "" {
			t.Fatal("sshd is not installed (apt-get install openssh-server)")
		}
		t.Skip("sshd is not installed (apt-get install openssh-server)")
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen is not installed")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// sshd refuses to start without its privilege separation directory.
	_ = os.MkdirAll("/run/sshd", 0o755)

	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "host"))
	keygen(t, filepath.Join(dir, "client"))
	pub, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host
AuthorizedKeysFile %s/authorized_keys
PidFile %s/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
AcceptEnv MAILSTACK_*
`, port, dir, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "client"))
	hostKey, _ := os.ReadFile(filepath.Join(dir, "host.pub"))
	s = &testServer{port: port, user: u.Username, dir: dir, privateKey: string(key),
		hostKey: strings.TrimSpace(string(hostKey))}

	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	started := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-started:
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		default:
		}
	})
	start = func() error {
		if err := cmd.Start(); err != nil {
			return err
		}
		close(started)
		for i := 0; ; i++ {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				c.Close()
				return nil
			}
			if i > 50 {
				return fmt.Errorf("sshd did not start: %s", stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return s, start
}

func startSSHD(t *testing.T) *testServer {
	t.Helper()
	s, start := prepareSSHD(t, freePort(t))
	if err := start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *testServer) connection(extra map[string]any) map[string]any {
	c := map[string]any{"host": "127.0.0.1", "port": s.port, "user": s.user, "privateKey": s.privateKey}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func TestRemoteCommand(t *testing.T) {
	s := startSSHD(t)
	p, logs := newTestProvider()
	target := filepath.Join(s.dir, "written")

	in := check(t, p, remoteURN, props(t, map[string]any{
		"connection":  s.connection(map[string]any{"hostKey": s.hostKey}),
		"create":      "cat > " + target + " && echo \"wrote $MAILSTACK_NAME\" && echo note >&2",
		"update":      "echo \"previous: ${PULUMI_COMMAND_STDOUT:-unset}\"; cat >> " + target,
		"delete":      "rm " + target,
		"stdin":       "line one\n",
		"environment": map[string]any{"MAILSTACK_NAME": "file"},
	}))
	outs, err := create(t, p, remoteURN, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, outs, "stdout"); got != "wrote file" {
		t.Fatalf("stdout %q", got)
	}
	if got := str(t, outs, "stderr"); got != "note" {
		t.Fatalf("stderr %q", got)
	}
	if b, _ := readFile(target); b != "line one\n" {
		t.Fatalf("stdin not piped: %q", b)
	}
	if !outs["connection"].IsSecret() {
		t.Fatal("connection output must be secret")
	}
	if l := logs.All(); !strings.Contains(l, "wrote file") || !strings.Contains(l, "note") {
		t.Fatalf("logs %q", l)
	}

	// Update: runs `update`; PULUMI_COMMAND_STDOUT is refused by this sshd (not in AcceptEnv), which is ignored.
	news := in.Copy()
	news["stdin"] = resource.NewStringProperty("line two\n")
	resp, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{Urn: remoteURN, Olds: marshal(t, outs), News: marshal(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	updated := unmarshal(t, resp.Properties)
	if got := str(t, updated, "stdout"); got != "previous: unset" {
		t.Fatalf("update stdout %q", got)
	}
	if b, _ := readFile(target); b != "line one\nline two\n" {
		t.Fatalf("after update: %q", b)
	}

	if _, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{Urn: remoteURN, Properties: marshal(t, updated)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatal("delete did not run")
	}
}

func TestRemoteFailures(t *testing.T) {
	s := startSSHD(t)
	p, logs := newTestProvider()

	// Non-zero exit: remote/commandOutputs.go "%w: running %q:\n%s", with ssh.ExitError's text.
	in := check(t, p, remoteURN, props(t, map[string]any{
		"connection": s.connection(nil), "create": "echo no-such-thing >&2; exit 7",
	}))
	if _, err := create(t, p, remoteURN, in); err == nil ||
		err.Error() != "Process exited with status 7: running \"echo no-such-thing >&2; exit 7\":\nno-such-thing\n" {
		t.Fatalf("want status 7, the command and stderr, got %q", err)
	}

	// A user environment variable the server refuses is an error (remote/commandOutputs.go run:
	// logAndWrapSetenvErr(diag.Error, ...) is returned).
	in = check(t, p, remoteURN, props(t, map[string]any{
		"connection": s.connection(nil), "create": "echo ok", "environment": map[string]any{"NOT_ACCEPTED": "1"},
	}))
	if _, err := create(t, p, remoteURN, in); err == nil ||
		!strings.Contains(err.Error(), `could not set environment variable "NOT_ACCEPTED"`) {
		t.Fatalf("refused env: %v", err)
	}

	// A wrong host key is refused.
	wrongDir := t.TempDir()
	keygen(t, filepath.Join(wrongDir, "other"))
	other, _ := os.ReadFile(filepath.Join(wrongDir, "other.pub"))
	in = check(t, p, remoteURN, props(t, map[string]any{
		"connection": s.connection(map[string]any{"hostKey": string(other), "dialErrorLimit": 1}), "create": "true",
	}))
	if _, err := create(t, p, remoteURN, in); err == nil || !strings.Contains(err.Error(), "host key") {
		t.Fatalf("want a host key mismatch, got %v", err)
	}

	// Nothing listening: remote/connection.go dialWithRetry retries dialErrorLimit failed dials, so it dials
	// limit+1 times, reporting each retry, and fails "after N failed attempts".
	in = check(t, p, remoteURN, props(t, map[string]any{
		"connection": map[string]any{"host": "127.0.0.1", "port": freePort(t), "privateKey": s.privateKey,
			"dialErrorLimit": 2, "perDialTimeout": 0},
		"create": "true",
	}))
	if _, err := create(t, p, remoteURN, in); err == nil || !strings.HasPrefix(err.Error(), "after 2 failed attempts: ") {
		t.Fatalf("want 2 failed attempts, got %v", err)
	}
	if l := logs.All(); strings.Count(l, "/2 failed: retrying") != 2 || !strings.Contains(l, "Dial 2/2 failed: retrying") {
		t.Fatalf("retries reported: %q", l)
	}
}

// A server that comes up while we retry is reached: the case of a freshly booted machine.
func TestRemoteDialRetry(t *testing.T) {
	p, _ := newTestProvider()
	s, start := prepareSSHD(t, freePort(t))
	startErr := make(chan error, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		startErr <- start()
	}()
	in := check(t, p, remoteURN, props(t, map[string]any{
		"connection": s.connection(map[string]any{"dialErrorLimit": 10, "perDialTimeout": 2}),
		"create":     "echo reached",
	}))
	outs, err := create(t, p, remoteURN, in)
	if err := <-startErr; err != nil {
		t.Fatal(err)
	}
	if err != nil || str(t, outs, "stdout") != "reached" {
		t.Fatalf("retry: %v", err)
	}
}

// A connection through a proxy (jump host): here the server is its own proxy.
func TestRemoteProxy(t *testing.T) {
	s := startSSHD(t)
	p, _ := newTestProvider()
	in := check(t, p, remoteURN, props(t, map[string]any{
		"connection": s.connection(map[string]any{"host": "localhost", "proxy": s.connection(nil)}),
		"create":     "echo via proxy",
	}))
	outs, err := create(t, p, remoteURN, in)
	if err != nil || str(t, outs, "stdout") != "via proxy" {
		t.Fatalf("proxy: %v", err)
	}
}

// CopyToRemote writes a text asset to a path, and a file asset into an existing directory under its own name.
func TestCopyToRemote(t *testing.T) {
	s := startSSHD(t)
	p, _ := newTestProvider()
	const urn = "urn:pulumi:dev::proj::command:remote:CopyToRemote::copy"

	text, err := asset.FromText("from text\n")
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(s.dir, "copied.txt")
	news := props(t, map[string]any{"connection": s.connection(nil), "remotePath": target})
	news["source"] = resource.NewAssetProperty(text)
	if _, err := create(t, p, urn, check(t, p, urn, news)); err != nil {
		t.Fatal(err)
	}
	if b, _ := readFile(target); b != "from text\n" {
		t.Fatalf("text asset: %q", b)
	}

	src := filepath.Join(t.TempDir(), "config.cf")
	if err := os.WriteFile(src, []byte("a = b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := asset.FromPath(src)
	if err != nil {
		t.Fatal(err)
	}
	destDir := filepath.Join(s.dir, "dest")
	if err := os.Mkdir(destDir, 0o755); err != nil {
		t.Fatal(err)
	}
	news = props(t, map[string]any{"connection": s.connection(nil), "remotePath": destDir})
	news["source"] = resource.NewAssetProperty(file)
	if _, err := create(t, p, urn, check(t, p, urn, news)); err != nil {
		t.Fatal(err)
	}
	if b, _ := readFile(filepath.Join(destDir, "config.cf")); b != "a = b\n" {
		t.Fatalf("file asset into a directory: %q", b)
	}
}
