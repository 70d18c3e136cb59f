package command

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// localRunner runs commands on this machine through the interpreter (default /bin/sh -c), in dir.
func localRunner(interpreter []string, dir string) runner {
	return func(ctx context.Context, cmd string, stdin *string, env []envVar,
		stdout, stderr io.Writer, _ logger) error {
		args := append(append([]string{}, interpreter[1:]...), cmd)
		c := exec.CommandContext(ctx, interpreter[0], args...)
		c.Dir = dir
		c.Env = os.Environ()
		for _, v := range env {
			c.Env = append(c.Env, v.name+"="+v.value)
		}
		if stdin != nil && *stdin != "" {
			c.Stdin = strings.NewReader(*stdin)
		}
		c.Stdout, c.Stderr = stdout, stderr
		// On cancel, give the command a chance to clean up (SIGTERM) before it is killed.
		c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
		c.WaitDelay = 10 * time.Second

		if err := c.Run(); err != nil {
			return &commandError{err}
		}
		return nil
	}
}
