package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// envVar is one environment variable for a command. optional marks the ones we add ourselves
// (PULUMI_COMMAND_STDOUT/STDERR): an sshd without a matching AcceptEnv refuses them, which is fine.
type envVar struct {
	name, value string
	optional    bool
}

// runner runs one command line to completion, writing what it prints to stdout and stderr. A non-zero exit
// must come back as *exitError. warn reports a non-fatal problem (never with secret values in it).
type runner func(ctx context.Context, cmd string, stdin *string, env []envVar,
	stdout, stderr io.Writer, warn func(string)) error

// exitError is a command that ran and failed. status is -1 when no status was reported (killed by a signal).
type exitError struct{ status int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.status) }

// lineWriter keeps everything written to it and hands each complete line to emit (when emit is not nil), so
// output streams to the engine while the command runs rather than all at the end.
type lineWriter struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	emit    func(line string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	if w.emit == nil {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// flush emits a last line that had no newline.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.emit != nil && len(w.partial) > 0 {
		w.emit(string(w.partial))
		w.partial = nil
	}
}

// String returns the whole output minus one trailing newline, as the real provider stores it.
func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSuffix(w.all.String(), "\n")
}

// execution is one run of one of a Command's create/update/delete lines.
type execution struct {
	phase   string // "create", "update" or "delete": named in errors, which never quote the command itself
	command string
	in      *commandInputs
	prev    *[2]string // stdout and stderr of the previous run, for PULUMI_COMMAND_STDOUT/STDERR
	log     func(line string)
	warn    func(msg string)
}

// execute runs e with run and returns the command's stdout and stderr.
func execute(ctx context.Context, e execution, run runner) (string, string, error) {
	var env []envVar
	for _, kv := range sortedEnv(e.in.environment) {
		env = append(env, envVar{name: kv[0], value: kv[1]})
	}
	if e.in.addPreviousOutputInEnv && e.prev != nil {
		env = append(env,
			envVar{name: "PULUMI_COMMAND_STDOUT", value: e.prev[0], optional: true},
			envVar{name: "PULUMI_COMMAND_STDERR", value: e.prev[1], optional: true})
	}

	// Output that may echo a secret is never logged, whatever `logging` says.
	logOut, logErr := e.log, e.log
	if e.in.outputSecret || e.log == nil {
		logOut, logErr = nil, nil
	}
	switch e.in.logging {
	case "stdout":
		logErr = nil
	case "stderr":
		logOut = nil
	case "none":
		logOut, logErr = nil, nil
	}
	stdout := &lineWriter{emit: logOut}
	stderr := &lineWriter{emit: logErr}

	err := run(ctx, e.command, e.in.stdin, env, stdout, stderr, e.warn)
	stdout.flush()
	stderr.flush()
	if err == nil {
		return stdout.String(), stderr.String(), nil
	}
	if ctx.Err() != nil {
		return "", "", fmt.Errorf("%s command cancelled: %w", e.phase, ctx.Err())
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		return "", "", fmt.Errorf("%s command: %w", e.phase, err)
	}
	msg := fmt.Sprintf("%s command failed: %v", e.phase, ee)
	if e.in.outputSecret {
		msg += " (its stderr is not shown: the command, its stdin or its environment is secret)"
	} else if s := tail(stderr.String(), 4096); s != "" {
		msg += "; stderr:\n" + s
	}
	return "", "", errors.New(msg)
}

// tail keeps the last n bytes of s: the end of stderr is where the reason for a failure usually is.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "[...]" + s[len(s)-n:]
}
