// Package basetest holds what the providers' tests share: (un)marshalling that fails the test instead of
// returning an error.
package basetest

import (
	"testing"

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
