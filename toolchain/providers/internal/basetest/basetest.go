// Package basetest holds what the providers' tests share: (un)marshalling that fails the test instead of
// returning an error.
package basetest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"google.golang.org/protobuf/types/known/structpb"

	"mailstack/toolchain/providers/internal/base"
)

// Marshal is base.Marshal for tests.
func Marshal(t testing.TB, pm resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := base.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Unmarshal is base.Unmarshal for tests.
func Unmarshal(t testing.TB, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	pm, err := base.Unmarshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

// Log is what a test provider sent to the engine (its base.Logger): "severity: message" lines, ephemeral ones
// (statuses such as dial retries, not part of the output) as "status".
type Log struct {
	mu    sync.Mutex
	lines []string
}

// Logger is the provider's base.Logger.
func (l *Log) Logger(_ context.Context, sev diag.Severity, _ resource.URN, msg string, ephemeral bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ephemeral {
		sev = "status"
	}
	l.lines = append(l.lines, string(sev)+": "+msg)
}

// Lines is every line so far.
func (l *Log) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// All is every line so far, one string.
func (l *Log) All() string { return strings.Join(l.Lines(), "\n") }

// Reset forgets the lines so far.
func (l *Log) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = nil
}
