package command

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/retry"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// clientConfig builds the SSH client configuration of one hop. Without hostKey any host key is accepted, as the
// real provider does: a new server's key is not known in advance.
func clientConfig(c *connection) (*ssh.ClientConfig, func(), error) {
	cfg := &ssh.ClientConfig{
		User:            c.user,
		Timeout:         time.Duration(c.perDialTimeout) * time.Second,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // documented behaviour when hostKey is unset
	}
	cleanup := func() {}
	if c.hostKey != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.hostKey))
		if err != nil {
			return nil, nil, fmt.Errorf("connection.hostKey is not an OpenSSH public key: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(key)
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(key)
	}
	if c.privateKey != "" {
		var signer ssh.Signer
		var err error
		if c.privateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(c.privateKey), []byte(c.privateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(c.privateKey))
		}
		if err != nil {
			// The parse error never contains key material.
			return nil, nil, fmt.Errorf("connection.privateKey: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.agentSocketPath != "" {
		conn, err := net.Dial("unix", c.agentSocketPath)
		if err != nil {
			return nil, nil, fmt.Errorf("connection.agentSocketPath: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		cleanup = func() { conn.Close() }
	}
	if c.password != "" {
		pw := c.password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	return cfg, cleanup, nil
}

// hostKeyAlgorithms makes the server present the key type we pinned, not another key it also has.
func hostKeyAlgorithms(key ssh.PublicKey) []string {
	if key.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{key.Type()}
}

// dialer opens a TCP connection to addr: directly, or through an SSH proxy (jump host).
type dialer func(ctx context.Context, addr string) (net.Conn, error)

func directDial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// dialOnce makes one attempt to open an SSH client to c over dial, as ssh.Dial does: perDialTimeout bounds the
// TCP connect (0: no bound), not the handshake. Cancelling ctx aborts either.
func dialOnce(ctx context.Context, c *connection, cfg *ssh.ClientConfig, dial dialer) (*ssh.Client, error) {
	addr := net.JoinHostPort(c.host, strconv.Itoa(c.port))
	dctx, cancel := ctx, context.CancelFunc(func() {})
	if cfg.Timeout > 0 {
		dctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
	}
	conn, err := dial(dctx, addr)
	cancel()
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if !stop() || err != nil {
		conn.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// dialRetry connects to c as upstream's dialWithRetry (remote/connection.go) does, with the pauses of the Pulumi
// SDK's retry.Until (100 ms, growing 1.5 times, at most 5 s): dialErrorLimit failed attempts are retried, so
// the limit plus one dials are made in all (-1: no limit).
func dialRetry(ctx context.Context, what string, c *connection, dial dialer, status func(string)) (*ssh.Client, func(), error) {
	cfg, cleanup, err := clientConfig(c)
	if err != nil {
		return nil, nil, err
	}
	limit := "inf"
	if c.dialErrorLimit != -1 {
		limit = strconv.Itoa(c.dialErrorLimit)
	}
	delay := retry.DefaultDelay
	for try := 0; ; try++ {
		client, err := dialOnce(ctx, c, cfg, dial)
		if err == nil {
			return client, cleanup, nil
		}
		if ctx.Err() != nil {
			cleanup()
			return nil, nil, ctx.Err()
		}
		if dials := try + 1; c.dialErrorLimit > -1 && dials > c.dialErrorLimit {
			cleanup()
			return nil, nil, fmt.Errorf("after %d failed attempts: %w", try, err)
		}
		status(fmt.Sprintf("%s %d/%s failed: retrying", what, try+1, limit))
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(time.Duration(float64(delay)*retry.DefaultBackoff), retry.DefaultMaxDelay)
	}
}

// connect opens the client for c, through its proxy when it has one. The returned close function closes every
// hop.
func connect(ctx context.Context, c *connection, status func(string)) (*ssh.Client, func(), error) {
	dial := directDial
	closeProxy := func() {}
	if c.proxy != nil {
		pc, cleanup, err := dialRetry(ctx, "Dial proxy", c.proxy, directDial, status)
		if err != nil {
			return nil, nil, fmt.Errorf("proxy: %w", err)
		}
		closeProxy = func() { pc.Close(); cleanup() }
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return pc.DialContext(ctx, "tcp", addr) }
	}
	client, cleanup, err := dialRetry(ctx, "Dial", c, dial, status)
	if err != nil {
		closeProxy()
		if c.proxy != nil {
			err = fmt.Errorf("proxy: %w", err)
		}
		return nil, nil, err
	}
	return client, func() { client.Close(); cleanup(); closeProxy() }, nil
}

// setenvRefused is upstream's logAndWrapSetenvErr text (remote/commandOutputs.go).
func setenvRefused(name string) string {
	return fmt.Sprintf(`Unable to set '%s'. This only works if your SSH server is configured to accept
	these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could
	prefix the command itself with the variables in the form 'VAR=value command'`, name)
}

// remoteRunner runs commands over SSH with c: one connection and one session per command, as each resource
// operation is independent.
func remoteRunner(c *connection) runner {
	return func(ctx context.Context, cmd string, stdin *string, env []envVar,
		stdout, stderr io.Writer, log logger) error {
		client, closeAll, err := connect(ctx, c, func(msg string) { log(diag.Info, msg, true) })
		if err != nil {
			return err
		}
		defer closeAll()
		session, err := client.NewSession()
		if err != nil {
			return err
		}
		defer session.Close()

		for _, v := range env {
			if err := session.Setenv(v.name, v.value); err != nil {
				if v.optional {
					log(diag.Warning, setenvRefused(v.name), false)
					continue
				}
				log(diag.Error, setenvRefused(v.name), false)
				return fmt.Errorf("could not set environment variable %q: %w", v.name, err)
			}
		}
		if stdin != nil && *stdin != "" {
			session.Stdin = strings.NewReader(*stdin)
		}
		session.Stdout, session.Stderr = stdout, stderr

		if err := session.Start(cmd); err != nil {
			return &commandError{err}
		}
		done := make(chan error, 1)
		go func() { done <- session.Wait() }()
		select {
		case err = <-done:
		case <-ctx.Done():
			_ = session.Signal(ssh.SIGTERM)
			closeAll() // unblocks Wait
			<-done
			return ctx.Err()
		}
		if err != nil {
			return &commandError{err}
		}
		return nil
	}
}
