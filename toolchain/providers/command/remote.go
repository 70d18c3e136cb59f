package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

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

// dialOnce makes one attempt to open an SSH client to c over dial.
func dialOnce(ctx context.Context, c *connection, cfg *ssh.ClientConfig, dial dialer) (*ssh.Client, error) {
	addr := net.JoinHostPort(c.host, strconv.Itoa(c.port))
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conn, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	// The handshake has no context: a deadline bounds it, and closing the connection on cancel unblocks it.
	_ = conn.SetDeadline(time.Now().Add(cfg.Timeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if !stop() || err != nil {
		conn.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// dialRetry connects to c, retrying failures (a server that is still booting refuses connections or has no
// key yet) with a short, growing pause, up to c.dialErrorLimit attempts (-1: until cancelled).
func dialRetry(ctx context.Context, c *connection, dial dialer, status func(string)) (*ssh.Client, func(), error) {
	cfg, cleanup, err := clientConfig(c)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 1; ; attempt++ {
		client, err := dialOnce(ctx, c, cfg, dial)
		if err == nil {
			return client, cleanup, nil
		}
		if ctx.Err() != nil || (c.dialErrorLimit >= 0 && attempt >= c.dialErrorLimit) {
			cleanup()
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, nil, fmt.Errorf("could not connect to %s:%d as %s after %d attempt(s): %w",
				c.host, c.port, c.user, attempt, err)
		}
		status(fmt.Sprintf("ssh to %s:%d failed (attempt %d): %v; retrying", c.host, c.port, attempt, err))
		pause := min(time.Duration(attempt)*time.Second, 5*time.Second)
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// connect opens the client for c, through its proxy when it has one. The returned close function closes every
// hop.
func connect(ctx context.Context, c *connection, status func(string)) (*ssh.Client, func(), error) {
	dial := directDial
	closeProxy := func() {}
	if c.proxy != nil {
		pc, cleanup, err := dialRetry(ctx, c.proxy, directDial, status)
		if err != nil {
			return nil, nil, fmt.Errorf("proxy: %w", err)
		}
		closeProxy = func() { pc.Close(); cleanup() }
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return pc.DialContext(ctx, "tcp", addr) }
	}
	client, cleanup, err := dialRetry(ctx, c, dial, status)
	if err != nil {
		closeProxy()
		return nil, nil, err
	}
	return client, func() { client.Close(); cleanup(); closeProxy() }, nil
}

// remoteRunner runs commands over SSH with c: one connection and one session per command, as each resource
// operation is independent.
func remoteRunner(c *connection, status func(string)) runner {
	return func(ctx context.Context, cmd string, stdin *string, env []envVar,
		stdout, stderr io.Writer, warn func(string)) error {
		client, closeAll, err := connect(ctx, c, status)
		if err != nil {
			return err
		}
		defer closeAll()
		session, err := client.NewSession()
		if err != nil {
			return fmt.Errorf("opening an SSH session: %w", err)
		}
		defer session.Close()

		var refused []string
		for _, v := range env {
			// sshd only takes the variables its AcceptEnv lists; a refusal is not fatal (see envVar).
			if err := session.Setenv(v.name, v.value); err != nil && !v.optional {
				refused = append(refused, v.name)
			}
		}
		if len(refused) > 0 {
			warn(fmt.Sprintf("the SSH server refused to set %s (is it in sshd's AcceptEnv?)", strings.Join(refused, ", ")))
		}
		if stdin != nil {
			session.Stdin = strings.NewReader(*stdin)
		}
		session.Stdout, session.Stderr = stdout, stderr

		if err := session.Start(cmd); err != nil {
			return fmt.Errorf("starting the command over SSH: %w", err)
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
		var ee *ssh.ExitError
		var missing *ssh.ExitMissingError
		switch {
		case errors.As(err, &ee):
			return &exitError{status: ee.ExitStatus()}
		case errors.As(err, &missing):
			return &exitError{status: -1}
		}
		return err
	}
}
