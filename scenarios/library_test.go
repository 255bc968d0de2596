package scenarios

import "testing"

// TestLibrary runs every built-in scenario as a subtest: `go test ./...` fails when one does.
func TestLibrary(t *testing.T) {
	RunLibraryT(t)
}
