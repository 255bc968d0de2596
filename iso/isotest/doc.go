// Package isotest holds small pieces that the tests of several packages share, in the manner
// of net/http/httptest. It has no knowledge of messages; it exists so that a test helper is
// written once rather than copied into every package's _test files.
package isotest
