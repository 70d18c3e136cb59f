package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
)

// envVar is one environment variable for a command. optional marks PULUMI_COMMAND_STDOUT/STDERR: upstream sets
// them "optimistically" and only warns when sshd refuses them; a refused `environment` entry is an error.
type envVar struct {
	name, value string
	optional    bool
}

// logger reports on the resource; an ephemeral message is a status that the next one replaces.
type logger func(sev diag.Severity, msg string, ephemeral bool)

// runner runs one command line to completion, writing what it prints to stdout and stderr. A failure of the
// command itself (it could not start, or ended non-zero) must come back as *commandError; connection problems
// come back as they are.
type runner func(ctx context.Context, cmd string, stdin *string, env []envVar,
	stdout, stderr io.Writer, log logger) error

// commandError is a command that failed. err is what Go reports (for SSH "Process exited with status 1", for a
// local command "exit status 1"), which upstream puts first in its message.
type commandError struct{ err error }

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

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
	command string
	in      *commandInputs
	prev    *[2]string // stdout and stderr of the previous run, for PULUMI_COMMAND_STDOUT/STDERR
	log     logger     // messages on the resource; Info lines are the command's output
}

// execute runs e with run and returns the command's stdout and stderr. As upstream (remote/commandOutputs.go and
// local/run.go of pulumi-command v1.2.1): `logging` alone decides what is streamed, and a failure reads
// "<error>: running "<command>":\n<stdout and stderr as they came>", whatever `logging` says.
func execute(ctx context.Context, e execution, run runner) (string, string, error) {
	var env []envVar
	for _, kv := range sortedEnv(e.in.environment) {
		env = append(env, envVar{name: kv[0], value: kv[1]})
	}
	if e.in.addPreviousOutputInEnv && e.prev != nil {
		for i, name := range []string{"PULUMI_COMMAND_STDOUT", "PULUMI_COMMAND_STDERR"} {
			if e.prev[i] != "" {
				env = append(env, envVar{name: name, value: e.prev[i], optional: true})
			}
		}
	}

	line := func(s string) { e.log(diag.Info, s, false) }
	logOut, logErr := line, line
	switch e.in.logging {
	case "stdout":
		logErr = nil
	case "stderr":
		logOut = nil
	case "none":
		logOut, logErr = nil, nil
	}
	var both lineWriter
	stdout := &lineWriter{emit: logOut}
	stderr := &lineWriter{emit: logErr}

	err := run(ctx, e.command, e.in.stdin, env, io.MultiWriter(stdout, &both), io.MultiWriter(stderr, &both), e.log)
	stdout.flush()
	stderr.flush()
	var ce *commandError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), nil
	case errors.As(err, &ce):
		return "", "", fmt.Errorf("%w: running %q:\n%s", ce.err, e.command, both.all.String())
	}
	return "", "", err
}
